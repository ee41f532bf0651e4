/**
 * Peak resident set size of this process: sampled every `everyMs` by a timer
 * and, because a synchronous loop starves timers, also at every explicit
 * `sample()` call (the runners call it after each submitted chunk).
 * `kernelPeakMb()` is the kernel's high-water mark (getrusage ru_maxrss),
 * which also catches peaks between samples.
 */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout | null = null;

  start(everyMs = 20): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return toMb(this.peak);
  }
}

export function currentRssMb(): number {
  return toMb(process.memoryUsage.rss());
}

export function kernelPeakMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

function toMb(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}
