import { describe } from "vitest";
import { cancelCases } from "./cases/cancel.js";
import { claimCases } from "./cases/claim.js";
import { enqueueCases } from "./cases/enqueue.js";
import { groupCases } from "./cases/groups.js";
import { heartbeatCases } from "./cases/heartbeat.js";
import { leaseCases } from "./cases/leases.js";
import { listCases } from "./cases/list.js";
import { cancelNoteCases, releaseCases } from "./cases/release.js";
import { retentionCases } from "./cases/retention.js";
import { settleCases } from "./cases/settle.js";
import { subscribeCases } from "./cases/subscribe.js";
import { type StoreFactory, useStore } from "./harness.js";

export type { StoreFactory } from "./harness.js";

/**
 * The Store port's semantics (src/store/port.ts), as one suite every store
 * runs. `factory` is called before each test and must return a fresh, empty
 * store (not yet initialised); the suite calls init() and configure(), and
 * after the test close() then `cleanup` (drop the schema, delete the file).
 * Every call passes an explicit `now`, so no test sleeps; listener deliveries
 * are awaited with a timeout, so stores may deliver them asynchronously.
 */
export function describeStoreConformance(label: string, factory: StoreFactory): void {
  describe(`Store conformance: ${label}`, () => {
    const h = useStore(factory);
    enqueueCases(h);
    claimCases(h);
    settleCases(h);
    releaseCases(h);
    cancelNoteCases(h);
    heartbeatCases(h);
    cancelCases(h);
    groupCases(h);
    leaseCases(h);
    retentionCases(h);
    subscribeCases(h);
    listCases(h);
  });
}
