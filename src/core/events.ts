import type { SerializedError } from "./job.js";
import type { Logger } from "./logger.js";

interface JobEvent {
  id: string;
  name: string;
}

/** What each event's listener receives. Events describe what this process did or saw. */
export interface OptiqEvents {
  submitted: JobEvent & { priority: number; runAt: number; group: string | null };
  started: JobEvent & { attempt: number; queueWaitMs: number };
  progress: JobEvent & { progress: unknown };
  retrying: JobEvent & { attempt: number; error: SerializedError; runAt: number };
  completed: JobEvent & { attempt: number; result: unknown; runMs: number };
  failed: JobEvent & { attempt: number; error: SerializedError };
  cancelled: JobEvent & { reason: string };
  /** Nothing queued or running anymore. */
  drained: Record<string, never>;
}

export type OptiqEventName = keyof OptiqEvents;

/** Every event name, in lifecycle order (for code that listens to all of them). */
export const EVENT_NAMES = [
  "submitted",
  "started",
  "progress",
  "retrying",
  "completed",
  "failed",
  "cancelled",
  "drained",
] as const satisfies readonly OptiqEventName[];

export type Listener<E extends OptiqEventName> = (event: OptiqEvents[E]) => void;

/**
 * A small typed emitter. A listener that throws is logged and skipped: user
 * code in a listener can never break the queue's bookkeeping.
 */
export class TypedEmitter {
  private readonly listeners = new Map<OptiqEventName, Set<(e: never) => void>>();

  constructor(private readonly logger: Logger) {}

  on<E extends OptiqEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (e: never) => void);
    return () => this.off(event, listener);
  }

  off<E extends OptiqEventName>(event: E, listener: Listener<E>): void {
    this.listeners.get(event)?.delete(listener as (e: never) => void);
  }

  /** Cheap check so hot paths build event objects only when someone listens. */
  has(event: OptiqEventName): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends OptiqEventName>(event: E, payload: OptiqEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<E>)(payload);
      } catch (err) {
        this.logger.error({ err, event }, "event listener threw");
      }
    }
  }
}
