import type { Job, Stats } from "../client/index.js";
import { describeProgress, formatNumber, renderBar, truncate } from "./progress.js";
import { columns, oneLine, padColumns } from "./text.js";

/**
 * A timestamp (ms since the epoch) as UTC date and time to the second. Never
 * throws: a value no Date can hold (a far-future `runAt`) is shown as its number.
 */
export function formatTime(ms: number | null): string {
  if (ms === null) return "-";
  const date = new Date(ms);
  if (!Number.isFinite(date.getTime())) return `${String(ms)} ms since the epoch`;
  return date
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A job's progress in a cell or a line: its bar when a fraction is known, else its label. */
export function progressCell(value: unknown): string {
  const view = describeProgress(value);
  if (view.fraction !== null) return `${Math.floor(view.fraction * 100)}%`;
  return truncate(view.label, 24) || "-";
}

/** `optiq get`: the fields a person reads, one per line. */
export function jobDetails(job: Job): string[] {
  const view = describeProgress(job.progress);
  const lines = [
    `id          ${oneLine(job.id)}`,
    `name        ${oneLine(job.name)}`,
    `state       ${job.state}${job.cancelRequested && job.state === "running" ? " (cancel requested)" : ""}`,
    `priority    ${job.priority}`,
    `attempt     ${job.attempt} of ${job.maxAttempts}`,
  ];
  if (job.group !== null) lines.push(`group       ${oneLine(job.group)}`);
  if (job.key !== null) lines.push(`key         ${oneLine(job.key)}`);
  lines.push(`created     ${formatTime(job.createdAt)}`);
  if (job.state === "queued") lines.push(`runs at     ${formatTime(job.runAt)}`);
  if (job.startedAt !== null) lines.push(`started     ${formatTime(job.startedAt)}`);
  if (job.finishedAt !== null) lines.push(`finished    ${formatTime(job.finishedAt)}`);
  if (job.progress !== null && job.progress !== undefined) {
    lines.push(`progress    ${renderBar(view.fraction)}${view.label ? `  ${view.label}` : ""}`);
  }
  lines.push(`input       ${truncate(JSON.stringify(job.input) ?? "-", 200)}`);
  if (job.state === "completed") lines.push(`result      ${JSON.stringify(job.result) ?? "-"}`);
  if (job.error !== null) {
    lines.push(`error       ${oneLine(`${job.error.code ? `${job.error.code}: ` : ""}${job.error.message}`)}`);
  }
  for (const e of job.errors) lines.push(`  attempt ${e.attempt}: ${oneLine(e.error.message)}`);
  return lines;
}

/** One line of totals, as `optiq stats` and `optiq watch` show them. */
export function totalsLine(s: Stats): string {
  const c = s.counts;
  return (
    `running ${s.running}/${s.capacity} · queued ${c.queued} · completed ${c.completed} · ` +
    `failed ${c.failed} · cancelled ${c.cancelled} · ${formatNumber(s.throughputPerSecond)}/s`
  );
}

/** Rows as aligned columns (in terminal columns: a wide character takes two); the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const cleanRows = rows.map((r) => r.map(oneLine));
  const widths = header.map((h, i) => Math.max(columns(h), ...cleanRows.map((r) => columns(r[i] ?? ""))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : padColumns(c, widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...cleanRows.map(line)];
}
