/**
 * The hand-over cost behind the 10 ms case, without timers: 100 jobs run at
 * concurrency 100 on handlers that wait on a promise; each wave resolves all
 * 100 one at a time (a microtask drain between each, as in a timer phase) and
 * measures how long until 100 next jobs have started. Prints the mean over the
 * first 200 waves (the JIT still compiling) and the median of the second half.
 * Not part of `npm run bench`; a profiling aid.
 *
 *   npx tsx bench/handover.ts optiq|fastq [waves]
 */
import fastq from "fastq";
import { Optiq, type SubmitManyItem } from "../src/index.js";

const system = process.argv[2] ?? "optiq";
const WAVES = Number(process.argv[3] ?? 3000);
const WIDTH = 100;

let pending: (() => void)[] = [];
let onFull: (() => void) | null = null;
const handler = (): Promise<void> =>
  new Promise<void>((resolve) => {
    pending.push(resolve);
    if (pending.length === WIDTH && onFull) {
      const f = onFull;
      onFull = null;
      f();
    }
  });
const full = (): Promise<void> =>
  new Promise<void>((resolve) => {
    if (pending.length === WIDTH) resolve();
    else onFull = resolve;
  });

const total = WIDTH * (WAVES + 1);
let stop: () => Promise<void>;
if (system === "optiq") {
  const q = new Optiq({ concurrency: WIDTH });
  q.define("job", handler);
  await q.start();
  await q.submitMany(new Array<SubmitManyItem>(total).fill({ name: "job" }));
  stop = () => q.stop({ graceful: false, timeoutMs: 1000 });
} else if (system === "fastq") {
  const q = fastq.promise(handler, WIDTH);
  for (let i = 0; i < total; i++) void q.push(undefined);
  stop = async () => q.kill();
} else {
  throw new Error(`unknown system ${system}; known: optiq, fastq`);
}

await full();
const times: number[] = [];
for (let w = 0; w < WAVES; w++) {
  const wave = pending;
  pending = [];
  const t = performance.now();
  for (const resolve of wave) {
    resolve();
    await null;
  }
  await full();
  times.push(performance.now() - t);
}
const first = times.slice(0, 200);
const warm = times.slice(WAVES / 2).sort((a, b) => a - b);
const us = (ms: number): string => (ms * 1000).toFixed(0);
console.log(
  `${system}: ${WIDTH}-job waves, first 200 mean ${us(first.reduce((a, b) => a + b, 0) / first.length)} µs, ` +
    `warm median ${us(warm[warm.length >> 1]!)} µs`,
);
for (const resolve of pending) resolve();
await stop();
