import { MemoryStore } from "../../src/stores/memory/memory-store.js";
import { describeStoreConformance } from "./store-conformance.js";

describeStoreConformance("memory", () =>
  Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }),
);
