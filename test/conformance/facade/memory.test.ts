import { MemoryStore } from "../../../src/index.js";
import { describeFacadeConformance } from "./facade-conformance.js";

describeFacadeConformance(
  "the memory store",
  async () => ({ store: new MemoryStore(), cleanup: async () => undefined }),
  {
    shared: false,
    durable: false,
  },
);
