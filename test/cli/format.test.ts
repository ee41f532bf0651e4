/**
 * What the commands print from a job or the server's data: times that never
 * throw, one line per value whatever it holds, tables aligned in columns.
 */
import stringWidth from "string-width";
import { describe, expect, it } from "vitest";
import type { Job } from "../../src/client/index.js";
import { formatTime, jobDetails, table } from "../../src/cli/format.js";

const job = (fields: Partial<Job>): Job =>
  ({
    id: "7",
    name: "train",
    state: "queued",
    priority: 0,
    attempt: 0,
    maxAttempts: 3,
    group: null,
    key: null,
    createdAt: 0,
    runAt: 0,
    startedAt: null,
    finishedAt: null,
    progress: null,
    input: null,
    result: undefined,
    error: null,
    errors: [],
    cancelRequested: false,
    ...fields,
  }) as Job;

describe("formatTime", () => {
  it("prints UTC to the second", () => {
    expect(formatTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe("2025-01-02 03:04:05Z");
    expect(formatTime(null)).toBe("-");
  });

  it("never throws: a time no Date can hold is shown as its number", () => {
    expect(formatTime(1e17)).toBe("100000000000000000 ms since the epoch");
    expect(formatTime(Number.NaN)).toBe("NaN ms since the epoch");
    expect(jobDetails(job({ runAt: 1e17 }))).toContain("runs at     100000000000000000 ms since the epoch");
  });
});

describe("jobDetails", () => {
  it("keeps every field on its line, with no control character of the job's", () => {
    const lines = jobDetails(
      job({
        name: "evil\x1b]0;pwned\x07name",
        state: "failed",
        error: { name: "Error", message: "line one\nline two\r\n\x1b[2Jcleared" },
      }),
    );
    const text = lines.join("\n");
    // eslint-disable-next-line no-control-regex -- asserting there are none
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(lines).toContain("name        evil]0;pwnedname");
    expect(lines).toContain("error       line one line two [2Jcleared");
  });
});

describe("table", () => {
  it("aligns columns by terminal width: a wide character takes two", () => {
    const lines = table(
      ["NAME", "STATE"],
      [
        ["最適化", "queued"],
        ["plain", "running"],
      ],
    );
    const stateColumn = lines.map((l) => stringWidth(l.slice(0, l.search(/(STATE|queued|running)$/))));
    expect(new Set(stateColumn).size).toBe(1);
  });
});
