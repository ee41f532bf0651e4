/**
 * Standard benchmark functions for minimisation; each has its global minimum
 * 0 (at the origin, or at (1, …, 1) for Rosenbrock) and a customary domain.
 */
export interface BenchmarkFunction {
  readonly name: FunctionName;
  /** Search box: every coordinate in [lo, hi]. */
  readonly lo: number;
  readonly hi: number;
  readonly f: (x: readonly number[]) => number;
}

export type FunctionName = "sphere" | "rosenbrock" | "rastrigin" | "ackley";

export const sphere = (x: readonly number[]): number => {
  let s = 0;
  for (const v of x) s += v * v;
  return s;
};

export const rosenbrock = (x: readonly number[]): number => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) {
    const a = x[i]!;
    const b = x[i + 1]!;
    s += 100 * (b - a * a) ** 2 + (1 - a) ** 2;
  }
  return s;
};

export const rastrigin = (x: readonly number[]): number => {
  let s = 10 * x.length;
  for (const v of x) s += v * v - 10 * Math.cos(2 * Math.PI * v);
  return s;
};

export const ackley = (x: readonly number[]): number => {
  let squares = 0;
  let cosines = 0;
  for (const v of x) {
    squares += v * v;
    cosines += Math.cos(2 * Math.PI * v);
  }
  const n = x.length;
  return -20 * Math.exp(-0.2 * Math.sqrt(squares / n)) - Math.exp(cosines / n) + 20 + Math.E;
};

export const FUNCTIONS: Record<FunctionName, BenchmarkFunction> = {
  sphere: { name: "sphere", lo: -5.12, hi: 5.12, f: sphere },
  rosenbrock: { name: "rosenbrock", lo: -2.048, hi: 2.048, f: rosenbrock },
  rastrigin: { name: "rastrigin", lo: -5.12, hi: 5.12, f: rastrigin },
  ackley: { name: "ackley", lo: -32.768, hi: 32.768, f: ackley },
};

export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];
