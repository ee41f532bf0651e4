import { describe, expect, it } from "vitest";
import { ClaimTrigger, type Claimer } from "../../src/worker/claim-trigger.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A claimer that counts claims and idle reports; the turn passes with setImmediate. */
function setup(): { trigger: ClaimTrigger; claimer: Claimer & { claims: number; idle: number } } {
  const claimer = {
    isRunning: true,
    claims: 0,
    idle: 0,
    claimOnce() {
      claimer.claims++;
      return Promise.resolve();
    },
    idleWithoutClaim() {
      claimer.idle++;
    },
  };
  return { trigger: new ClaimTrigger(claimer, silent, () => null), claimer };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("ClaimTrigger", () => {
  it("gathers every request of one turn into one claim", async () => {
    const { trigger, claimer } = setup();
    trigger.newWork();
    trigger.slotFreed();
    trigger.request();
    await nextTurn();
    await nextTurn();
    expect(claimer.claims).toBe(1);
  });

  it("after a short claim, a freed slot claims nothing and reports idle; new work claims", async () => {
    const { trigger, claimer } = setup();
    trigger.claimed(trigger.begin(), true);
    trigger.slotFreed();
    await nextTurn();
    expect(claimer).toMatchObject({ claims: 0, idle: 1 });
    trigger.newWork();
    await nextTurn();
    expect(claimer.claims).toBe(1);
    trigger.slotFreed(); // new work cleared the drained mark
    await nextTurn();
    expect(claimer.claims).toBe(2);
  });

  it("new work announced while a claim was in flight keeps freed slots claiming", async () => {
    const { trigger, claimer } = setup();
    const begun = trigger.begin();
    trigger.newWork();
    trigger.claimed(begun, true);
    await nextTurn();
    const before = claimer.claims;
    trigger.slotFreed();
    await nextTurn();
    expect(claimer.claims).toBe(before + 1);
    expect(claimer.idle).toBe(0);
  });

  it("a failed claim forgets that the store was drained", async () => {
    const { trigger, claimer } = setup();
    trigger.claimed(trigger.begin(), true);
    trigger.failed();
    trigger.slotFreed();
    await nextTurn();
    expect(claimer.claims).toBe(1);
  });
});
