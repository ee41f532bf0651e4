import { AbortedError, JobCancelledError, JobFailedError, type OptiqClient, type Submitted } from "../client/index.js";
import type { EventStream } from "../client/event-stream.js";
import { JobProgress } from "./job-progress.js";

export interface WaitOutcome {
  submitted: Submitted;
  result: unknown;
}

/**
 * Submits and waits for the result, drawing the job's progress from the
 * event stream meanwhile. The stream is opened before the submit so no event
 * of the job is missed; the result itself comes from the long-polling
 * `result()`, so a stream that fails or lags only costs the progress bar.
 *
 * Ctrl-C before the submit (while the stream is still connecting) submits
 * nothing; during the submit it aborts the request (the server may have
 * taken the job all the same); after it, it stops waiting, and the job goes on.
 */
export async function waitWithProgress(
  client: OptiqClient,
  submit: (signal: AbortSignal) => Promise<Submitted>,
  hooks: { onSubmitted: (s: Submitted) => void },
): Promise<WaitOutcome> {
  const ac = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    ac.abort();
  };
  process.once("SIGINT", onSigint);
  const stream = client.events(ac.signal);
  const streaming = await stream.opened.then(
    () => true,
    () => false,
  );
  try {
    if (interrupted) throw new AbortedError("interrupted before the job was submitted: nothing was submitted");
    let submitted: Submitted;
    try {
      submitted = await submit(ac.signal);
    } catch (err) {
      if (err instanceof AbortedError && interrupted) {
        throw new AbortedError("interrupted while submitting: the job may have been submitted or not", {
          cause: err,
        });
      }
      throw err;
    }
    hooks.onSubmitted(submitted);
    const display = new JobProgress(submitted.id);
    const pump = streaming ? follow(stream, submitted.id, display) : Promise.resolve();
    let final = "completed";
    try {
      const result = await client.result(submitted.id, { signal: ac.signal });
      return { submitted, result };
    } catch (err) {
      if (err instanceof JobFailedError) final = "failed";
      else if (err instanceof JobCancelledError) final = "cancelled";
      else final = "still running";
      if (err instanceof AbortedError && interrupted) {
        throw new AbortedError(`stopped waiting for job ${submitted.id}; the job goes on`);
      }
      throw err;
    } finally {
      ac.abort();
      await pump;
      display.finish(final);
    }
  } finally {
    process.off("SIGINT", onSigint);
    ac.abort();
  }
}

async function follow(stream: EventStream, id: string, display: JobProgress): Promise<void> {
  try {
    for await (const e of stream) {
      if (e.event === "stats" || e.event === "drained" || e.data.id !== id) continue;
      switch (e.event) {
        case "started":
          display.update(`running (attempt ${e.data.attempt})`);
          break;
        case "progress":
          display.update(null, e.data.progress);
          break;
        case "retrying":
          display.update(`retrying after attempt ${e.data.attempt}: ${e.data.error.message}`);
          break;
        default:
          break;
      }
    }
  } catch {
    // the bar is a nicety: the result wait decides the outcome
  }
}
