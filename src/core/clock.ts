/**
 * Time is injected so backoff, rate limits, timeouts and leases can be tested
 * without sleeping. The system clock keeps timers referenced while the queue
 * runs (a delayed job must keep a script alive); stop() clears every timer.
 */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days). A
 * longer one fires after 1 ms, so a wake-up for a job due in a month would
 * turn the claim loop into a spin; clamped, the timer fires early, the
 * worker finds nothing due, and sets the next one.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};
