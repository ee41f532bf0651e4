/** A mistake in how the command was called that commander cannot see (a missing handlers module): exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}
