import fastq from "fastq";
import PQueue from "p-queue";
import { setTimeout as sleep } from "node:timers/promises";
import { Optiq, type SubmitManyItem } from "../../src/index.js";
import { CHUNK, type CaseSpec, type SystemName } from "./definitions.js";

/** Runs one case on one system; `onChunk` is called after each CHUNK jobs are handed over. */
export type Runner = (spec: CaseSpec, onChunk: () => void) => Promise<{ ms: number; ran: number }>;

function makeHandler(spec: CaseSpec): { handler: () => Promise<void>; ran: () => number } {
  let ran = 0;
  const handler =
    spec.sleepMs > 0
      ? async () => {
          await sleep(spec.sleepMs);
          ran++;
        }
      : async () => {
          ran++;
        };
  return { handler, ran: () => ran };
}

/**
 * optiq, default memory store. Jobs go through the whole path: validated and
 * stored by submitMany (one call per CHUNK), claimed by the worker, run,
 * settled in the store; completion is the `drained` event.
 */
const runOptiq: Runner = async (spec, onChunk) => {
  const { handler, ran } = makeHandler(spec);
  const q = new Optiq({ concurrency: spec.concurrency });
  q.define("job", handler);
  await q.start();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // drained fires once per transition to idle; make sure it is the final one
  q.on("drained", () => {
    void q.stats().then((s) => {
      if (s.totals.completed + s.totals.failed + s.totals.cancelled >= spec.jobs) done();
    });
  });
  const item: SubmitManyItem = { name: "job" };
  const t0 = performance.now();
  for (let left = spec.jobs; left > 0; left -= CHUNK) {
    const n = Math.min(CHUNK, left);
    await q.submitMany(new Array<SubmitManyItem>(n).fill(item));
    onChunk();
  }
  await finished;
  const ms = performance.now() - t0;
  const stats = await q.stats();
  await q.stop();
  if (stats.totals.completed !== spec.jobs)
    throw new Error(`optiq completed ${stats.totals.completed} of ${spec.jobs}`);
  return { ms, ran: ran() };
};

/** p-queue: add() per job (its documented API), completion by onIdle(). */
const runPQueue: Runner = async (spec, onChunk) => {
  const { handler, ran } = makeHandler(spec);
  const q = new PQueue({ concurrency: spec.concurrency });
  const t0 = performance.now();
  for (let i = 0; i < spec.jobs; i++) {
    void q.add(handler);
    if ((i + 1) % CHUNK === 0) onChunk();
  }
  await q.onIdle();
  return { ms: performance.now() - t0, ran: ran() };
};

/** fastq: its promise API for async workers (fastq.promise), push() per job, completion by drained(). */
const runFastq: Runner = async (spec, onChunk) => {
  const { handler, ran } = makeHandler(spec);
  const q = fastq.promise(handler, spec.concurrency);
  const t0 = performance.now();
  for (let i = 0; i < spec.jobs; i++) {
    void q.push(undefined);
    if ((i + 1) % CHUNK === 0) onChunk();
  }
  await q.drained();
  return { ms: performance.now() - t0, ran: ran() };
};

export const RUNNERS: Record<SystemName, Runner> = {
  optiq: runOptiq,
  "p-queue": runPQueue,
  fastq: runFastq,
};
