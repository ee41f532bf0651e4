/** Everything an Rng needs to continue its sequence exactly: plain JSON, fit for a checkpoint. */
export interface RngState {
  /** mulberry32's 32-bit counter. */
  state: number;
  /** The second Box–Muller value, not yet handed out. */
  spare: number | null;
}

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same numbers on
 * every run and machine, so the demo's jobs and results are reproducible.
 * `getState()` / `Rng.fromState()` save and restore it mid-sequence.
 */
export class Rng {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** An Rng continuing exactly where the one that produced `saved` (by getState()) was. */
  static fromState(saved: RngState): Rng {
    if (typeof saved !== "object" || saved === null || !Number.isInteger(saved.state)) {
      throw new TypeError("Rng.fromState: not an RngState");
    }
    const rng = new Rng(saved.state);
    rng.spare = typeof saved.spare === "number" ? saved.spare : null;
    return rng;
  }

  /** The current state (a copy): Rng.fromState(rng.getState()) yields the same numbers as rng from here on. */
  getState(): RngState {
    return { state: this.state, spare: this.spare };
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Standard normal (Box–Muller, both values used). */
  gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}
