import { fitColumns, oneLine } from "./text.js";

/** What a job's progress value says: a fraction done when one can be read from it, and a short label. */
export interface ProgressView {
  /** 0..1, or null when the value says no fraction. */
  fraction: number | null;
  label: string;
}

const LABEL_CHARS = 48;

/**
 * Reads a progress value as handlers report it: a number 0..1, or an object
 * with `fraction` (0..1), `percent` (0..100), `done`/`current`/`completed`
 * over `total`, or a counter beside its plural (`trial` of `trials`). Other
 * scalar fields become the label; anything else is shown as truncated JSON.
 */
export function describeProgress(value: unknown): ProgressView {
  if (value === null || value === undefined) return { fraction: null, label: "" };
  if (typeof value === "number") {
    return value >= 0 && value <= 1 ? { fraction: value, label: "" } : { fraction: null, label: formatNumber(value) };
  }
  if (typeof value === "string") return { fraction: null, label: truncate(value, LABEL_CHARS) };
  if (typeof value !== "object" || Array.isArray(value)) return { fraction: null, label: json(value) };
  const o = value as Record<string, unknown>;
  const found = fractionOf(o);
  if (found === null) return { fraction: null, label: json(value) };
  const rest = Object.entries(o)
    .filter(([k, v]) => !found.keys.includes(k) && (typeof v === "number" || typeof v === "string"))
    .map(([k, v]) => `${k}=${typeof v === "number" ? formatNumber(v) : v}`);
  const counts = found.of === null ? "" : `${formatNumber(found.done)}/${formatNumber(found.of)}`;
  return { fraction: found.fraction, label: truncate([counts, ...rest].filter(Boolean).join(" "), LABEL_CHARS) };
}

interface Found {
  fraction: number;
  keys: string[];
  done: number;
  of: number | null;
}

function fractionOf(o: Record<string, unknown>): Found | null {
  const n = (k: string): number | null => {
    const v = o[k];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  const fraction = n("fraction");
  if (fraction !== null) return { fraction: clamp(fraction), keys: ["fraction"], done: fraction, of: null };
  const percent = n("percent");
  if (percent !== null) return { fraction: clamp(percent / 100), keys: ["percent"], done: percent, of: null };
  const total = n("total");
  if (total !== null && total > 0) {
    for (const k of ["done", "current", "completed", "processed"]) {
      const done = n(k);
      if (done !== null) return { fraction: clamp(done / total), keys: [k, "total"], done, of: total };
    }
  }
  for (const k of Object.keys(o)) {
    const done = n(k);
    const of = n(`${k}s`);
    if (done !== null && of !== null && of > 0) return { fraction: clamp(done / of), keys: [k, `${k}s`], done, of };
  }
  return null;
}

/** `[██████░░░░░░░░]  42%`, or a blank bar and `?` when the fraction is unknown. */
export function renderBar(fraction: number | null, width = 20): string {
  if (fraction === null) return `[${"·".repeat(width)}]    ?`;
  const filled = Math.round(clamp(fraction) * width);
  const pct = `${Math.floor(clamp(fraction) * 100)}%`.padStart(4);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${pct}`;
}

/** One job's line: its bar, its id and name, and what the progress value says besides. */
export function progressLine(id: string, name: string, value: unknown, width = 20): string {
  const view = describeProgress(value);
  return `${renderBar(view.fraction, width)}  ${oneLine(id)} ${oneLine(name)}${view.label ? `  ${view.label}` : ""}`;
}

export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function json(value: unknown): string {
  return truncate(JSON.stringify(value) ?? String(value), LABEL_CHARS);
}

/** The text on one line (see oneLine), cut to `max` terminal columns with "…" when longer. */
export function truncate(text: string, max: number): string {
  return fitColumns(oneLine(text), max);
}
