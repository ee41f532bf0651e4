// The dashboard's formatting helpers: a plain browser module without DOM use, imported as is.
import { describe, expect, it } from "vitest";

/**
 * What the tests use of dashboard/format.js. tsconfig.json does not read JS (the dashboard's JSDoc
 * types are checked by tsconfig.dashboard.json), so the import below is typed here.
 */
interface FormatModule {
  formatPercent(fraction: number): string;
  percentDown(fraction: number, tenths?: boolean): number;
  truncate(text: string, max: number): string;
  compactJson(value: unknown, max?: number): string;
  describeProgress(progress: unknown): { fraction: number | null; text: string };
}

// a specifier in a variable: tsc leaves the module untyped (no TS7016) and vitest loads it as is
const FORMAT_MODULE = "../../dashboard/format.js";
const { compactJson, describeProgress, formatPercent, percentDown, truncate } = (await import(
  FORMAT_MODULE
)) as FormatModule;

describe("dashboard format", () => {
  it("never shows unfinished work as 100%: percentages round down", () => {
    expect(formatPercent(0.995)).toBe("99%");
    expect(formatPercent(0.9999)).toBe("99%");
    expect(formatPercent(1 - 1e-12)).toBe("99%");
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0.5)).toBe("50%");
    expect(formatPercent(0.29)).toBe("29%"); // 0.29 * 100 is 28.999…
    expect(formatPercent(0.057)).toBe("5.7%");
    expect(formatPercent(0.0999)).toBe("9.9%");
    expect(formatPercent(0)).toBe("0%");
    // the bar (dom.js setProgress) rounds down to tenths the same way
    expect(percentDown(0.9996, true)).toBe(99.9);
    expect(percentDown(0.75, true)).toBe(75);
    expect(percentDown(1, true)).toBe(100);

    expect(describeProgress(0.997)).toEqual({ fraction: 0.997, text: "99%" });
    expect(describeProgress({ done: 999, total: 1000 }).text).toBe("999/1,000 (99%)");
    expect(describeProgress({ percent: 99.6 }).text).toBe("99%");
    expect(describeProgress({ done: 3, total: 3 }).text).toBe("3/3 (100%)");
  });

  it("shows text progress as itself, cut with a trailing …", () => {
    expect(describeProgress('a "quoted" step')).toEqual({ fraction: null, text: 'a "quoted" step' });
    expect(describeProgress("C:\\data\nnext").text).toBe("C:\\data\nnext");
    const long = `${"x".repeat(70)}END`;
    const text = describeProgress(long).text;
    expect(text).toHaveLength(60);
    expect(text).toBe(`${"x".repeat(59)}…`);
    expect(describeProgress("y".repeat(60)).text).toBe("y".repeat(60));
    // a string next to a fraction also reads as itself
    expect(describeProgress({ fraction: 0.5, stage: 'say "hi"' }).text).toBe('50% · stage say "hi"');
  });

  it("shows other values as compact JSON, cut with a trailing …", () => {
    expect(describeProgress({ stage: "load", rows: 3 }).text).toBe('{"stage":"load","rows":3}');
    expect(describeProgress([1, 2]).text).toBe("[1,2]");
    const text = describeProgress({ log: "z".repeat(100) }).text;
    expect(text).toHaveLength(60);
    expect(text.endsWith("…")).toBe(true);
    expect(text.startsWith('{"log":"zzz')).toBe(true);
    expect(compactJson({ a: 1 }, 5)).toBe('{"a"…');
  });

  it("cuts text without splitting a surrogate pair", () => {
    expect(truncate("ab😀cd", 4)).toBe("ab…");
    expect(truncate("abc😀d", 4)).toBe("abc…");
    expect(truncate("short", 5)).toBe("short");
  });
});
