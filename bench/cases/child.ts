/**
 * One measurement in a fresh process: `node --import tsx bench/cases/child.ts <case> <system>`.
 * Prints one JSON line: { case, system, jobs, ms, jobs_per_s, cpu_ms, rss_mb, maxrss_mb, base_rss_mb }.
 *
 * ms: wall time from the first submission to the completion event. cpu_ms:
 * user + system CPU of the process over the same span (GC helper threads
 * included). rss_mb: the peak of RSS samples taken every 20 ms and after
 * every submitted chunk. maxrss_mb: the kernel's high-water mark for the
 * whole process (getrusage), which also sees peaks between samples.
 * base_rss_mb: RSS before the run (runtime, tsx loader and modules).
 * cold_ms (cases with warm-up runs only): wall time of the first, untimed run.
 */
import { RssSampler, currentRssMb, kernelPeakMb } from "../lib/rss.js";
import { SYSTEMS, findCase, type SystemName } from "./definitions.js";
import { RUNNERS } from "./systems.js";

const [caseName, system] = process.argv.slice(2);
if (!caseName || !system || !(SYSTEMS as readonly string[]).includes(system)) {
  console.error(`usage: child.ts <case> <${SYSTEMS.join("|")}>`);
  process.exit(2);
}
const spec = findCase(caseName);
const baseRss = currentRssMb();
const sampler = new RssSampler();
sampler.start(20);
const runner = RUNNERS[system as SystemName];
let cold: { ms: number } | null = null;
for (let i = 0; i < spec.warmupRuns; i++) {
  const warm = await runner(spec, () => sampler.sample());
  if (warm.ran !== spec.jobs) throw new Error(`${system} ran ${warm.ran} handlers, expected ${spec.jobs}`);
  cold ??= warm;
}
const cpu0 = process.cpuUsage();
const { ms, ran } = await runner(spec, () => sampler.sample());
const cpu = process.cpuUsage(cpu0);
const rssMb = sampler.stop();
if (ran !== spec.jobs) throw new Error(`${system} ran ${ran} handlers, expected ${spec.jobs}`);
process.stdout.write(
  JSON.stringify({
    case: spec.name,
    system,
    jobs: spec.jobs,
    ms: Math.round(ms * 10) / 10,
    jobs_per_s: Math.round(spec.jobs / (ms / 1000)),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    rss_mb: rssMb,
    maxrss_mb: kernelPeakMb(),
    base_rss_mb: baseRss,
    ...(cold ? { cold_ms: Math.round(cold.ms * 10) / 10 } : {}),
  }) + "\n",
);
