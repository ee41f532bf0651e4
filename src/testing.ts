/** Helpers for testing code that uses optiq: a fake clock and the memory store. */
export { FakeClock, flushPromises } from "./core/fake-clock.js";
export { MemoryStore } from "./stores/memory/memory-store.js";
