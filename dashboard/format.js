// @ts-check
// Pure formatting helpers: numbers, durations, progress values, JSON.

/** @param {number} n */
export function formatCount(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—";
}

/**
 * A fraction as a percentage rounded down, to whole percents or to tenths, and below 100 while the
 * fraction is below 1: unfinished work never reads as done (0.999 is 99, or 99.9 in tenths).
 * @param {number} fraction
 * @param {boolean} [tenths]
 */
export function percentDown(fraction, tenths = false) {
  const scale = tenths ? 1000 : 100;
  // the epsilon keeps float noise (0.29 * 100 = 28.999…) from costing a whole step
  const steps = Math.floor(fraction * scale + 1e-9);
  return (fraction < 1 ? Math.min(steps, scale - 1) : steps) / (scale / 100);
}

/**
 * A fraction as a percentage for people: whole percents from 10%, tenths below. Rounded down like
 * the progress bar (dom.js setProgress), so only a whole 1 reads "100%".
 * @param {number} fraction 0..1
 */
export function formatPercent(fraction) {
  if (!Number.isFinite(fraction)) return "—";
  if (fraction === 0 || fraction >= 0.1) return `${percentDown(fraction)}%`;
  return `${percentDown(fraction, true).toFixed(1)}%`;
}

/**
 * `text` cut to at most `max` characters, the last of them "…" when anything was cut. A cut never
 * splits a surrogate pair.
 * @param {string} text
 * @param {number} max at least 1
 */
export function truncate(text, max) {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** @param {number} perSecond */
export function formatRate(perSecond) {
  if (!Number.isFinite(perSecond)) return "—";
  if (perSecond === 0) return "0/s";
  if (perSecond < 1) return `${perSecond.toFixed(2)}/s`;
  if (perSecond < 100) return `${perSecond.toFixed(1)}/s`;
  return `${formatCount(perSecond)}/s`;
}

/** @param {number} n */
const pad2 = (n) => String(n).padStart(2, "0");

/**
 * A duration for people: "420 ms", "4.2 s", "3m 07s", "2h 05m", "3d 4h".
 * @param {number | null | undefined} ms
 */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)} s`;
  const s = Math.floor(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** @param {number | null | undefined} at ms since the epoch */
export function formatTimestamp(at) {
  if (at === null || at === undefined || !Number.isFinite(at)) return "—";
  const d = new Date(at);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(
    d.getMinutes(),
  )}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * The age column: how long a job has waited, has run, or took.
 * @param {{ state: string, createdAt: number, runAt: number, startedAt: number | null, finishedAt: number | null }} job
 * @param {number} now
 */
export function describeTiming(job, now) {
  switch (job.state) {
    case "queued":
      // delayed jobs and retries wait from when they became due
      if (job.runAt > now + 500) return `due in ${formatDuration(job.runAt - now)}`;
      return `waiting ${formatDuration(now - Math.max(job.createdAt, job.runAt))}`;
    case "running":
      return `running ${formatDuration(now - (job.startedAt ?? now))}`;
    default:
      if (job.startedAt === null) return job.finishedAt === null ? "—" : "never ran";
      return `took ${formatDuration((job.finishedAt ?? now) - job.startedAt)}`;
  }
}

/** @param {unknown} value */
const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

/** Field pairs that read as "done of total" in a progress object. */
const PAIRS = /** @type {const} */ ([
  ["done", "total"],
  ["completed", "total"],
  ["current", "total"],
  ["count", "total"],
  ["trial", "trials"],
  ["step", "steps"],
  ["iteration", "iterations"],
]);

/**
 * Compact JSON, cut at `max` characters.
 * @param {unknown} value
 * @param {number} [max]
 */
export function compactJson(value, max = 80) {
  let text;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return truncate(text, max);
}

/**
 * A progress value as a bar fraction (when one can be read) and a short text.
 * Numbers 0..1 are fractions; objects with `fraction`, `percent` or a done/total pair give one.
 * Strings are shown as themselves, other values as compact JSON; both end in "…" when cut.
 * @param {unknown} progress
 * @returns {{ fraction: number | null, text: string }}
 */
export function describeProgress(progress) {
  if (progress === null || progress === undefined) return { fraction: null, text: "" };
  if (isNumber(progress)) {
    const n = /** @type {number} */ (progress);
    if (n >= 0 && n <= 1) return { fraction: n, text: formatPercent(n) };
    return { fraction: null, text: String(n) };
  }
  // text is shown as itself, not as a JSON literal
  if (typeof progress === "string") return { fraction: null, text: truncate(progress, 60) };
  if (typeof progress !== "object" || Array.isArray(progress))
    return { fraction: null, text: compactJson(progress, 60) };
  const o = /** @type {Record<string, unknown>} */ (progress);
  /** @type {number | null} */
  let fraction = null;
  /** @type {string | null} */
  let head = null;
  /** @type {Set<string>} */
  const used = new Set();
  if (isNumber(o.fraction)) {
    fraction = /** @type {number} */ (o.fraction);
    used.add("fraction");
  } else if (isNumber(o.percent)) {
    fraction = /** @type {number} */ (o.percent) / 100;
    used.add("percent");
  } else {
    for (const [doneKey, totalKey] of PAIRS) {
      const done = o[doneKey];
      const total = o[totalKey];
      if (isNumber(done) && isNumber(total) && /** @type {number} */ (total) > 0) {
        fraction = /** @type {number} */ (done) / /** @type {number} */ (total);
        head = `${formatCount(/** @type {number} */ (done))}/${formatCount(/** @type {number} */ (total))}`;
        used.add(doneKey).add(totalKey);
        break;
      }
    }
  }
  if (fraction === null) return { fraction: null, text: compactJson(progress, 60) };
  fraction = Math.min(1, Math.max(0, fraction));
  const rest = Object.entries(o)
    .filter(([key, value]) => !used.has(key) && (isNumber(value) || typeof value === "string"))
    .slice(0, 2)
    .map(
      ([key, value]) =>
        `${key} ${isNumber(value) ? formatScalar(/** @type {number} */ (value)) : truncate(String(value), 24)}`,
    );
  const text = [head === null ? formatPercent(fraction) : `${head} (${formatPercent(fraction)})`, ...rest].join(" · ");
  return { fraction, text };
}

/** @param {number} n */
function formatScalar(n) {
  if (Number.isInteger(n)) return formatCount(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Number(n.toPrecision(4)).toString();
}

/**
 * Pretty JSON for the detail panel, cut at `max` characters.
 * @param {unknown} value
 * @param {number} [max]
 */
export function prettyJson(value, max = 20_000) {
  if (value === undefined) return "undefined";
  let text;
  try {
    text = JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}\n… (${formatCount(text.length - max)} more characters)` : text;
}

/**
 * Orders job ids newest first. Stores hand out increasing integer ids; other ids compare as strings.
 * @param {string} a
 * @param {string} b
 * @returns {number} > 0 when `a` is newer than `b`
 */
export function compareIds(a, b) {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) {
    const x = a.replace(/^0+(?=\d)/, "");
    const y = b.replace(/^0+(?=\d)/, "");
    if (x.length !== y.length) return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
