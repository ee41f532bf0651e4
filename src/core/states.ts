/**
 * The job state machine as data. Every state change in every store is one of
 * these transitions; stores guard their updates so a job reaches exactly one
 * terminal state, once (see docs/state-machine.md).
 */
export const JOB_STATES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(["completed", "failed", "cancelled"]);

export interface Transition {
  readonly from: JobState;
  readonly to: JobState;
  readonly on: string;
}

export const TRANSITIONS: readonly Transition[] = [
  { from: "queued", to: "running", on: "claimed by a worker" },
  { from: "queued", to: "cancelled", on: "cancel() before it started" },
  { from: "running", to: "completed", on: "handler returned a value" },
  { from: "running", to: "failed", on: "handler threw and no attempt is left, or NonRetryableError" },
  {
    from: "running",
    to: "queued",
    on: "handler threw, lease expired or timed out, and attempts remain (after backoff)",
  },
  { from: "running", to: "cancelled", on: "cancel() while running, or shutdown; once the work has stopped" },
];

const allowed = new Set(TRANSITIONS.map((t) => `${t.from}>${t.to}`));

export function canTransition(from: JobState, to: JobState): boolean {
  return allowed.has(`${from}>${to}`);
}

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}
