// @ts-check
// The job detail panel: everything a snapshot holds, opened by clicking a row.

import { el, progressBar, setProgress } from "./dom.js";
import { compactJson, describeProgress, formatDuration, formatTimestamp, prettyJson, truncate } from "./format.js";
import { isCancellable } from "./jobs-table.js";

/** @typedef {import("./api.js").Job} Job */
/** @typedef {import("./api.js").SerializedError} SerializedError */
/** @typedef {import("./dom.js").Child} Child */

/**
 * A definition list from [term, value] pairs; null values are left out.
 * @param {Array<[string, Child]>} pairs
 * @param {Record<string, string>} [attrs]
 */
function fields(pairs, attrs = {}) {
  const dl = el("dl", { class: "fields", ...attrs });
  for (const [term, value] of pairs) {
    if (value === null || value === undefined) continue;
    dl.append(el("dt", {}, term), el("dd", {}, value));
  }
  return dl;
}

/**
 * @param {string} title
 * @param {Record<string, string>} attrs
 * @param {...Child} children
 */
function section(title, attrs, ...children) {
  return el("section", { class: "detail-section", ...attrs }, el("h3", {}, title), ...children);
}

/** @param {unknown} value */
function jsonBlock(value) {
  return el("pre", { class: "json" }, prettyJson(value));
}

/**
 * An error with its code, its cause chain and (folded) its stack.
 * @param {SerializedError} error
 */
function errorBlock(error) {
  const parts = [];
  /** @type {SerializedError | undefined} */
  let e = error;
  for (let depth = 0; e !== undefined && depth < 5; depth++, e = e.cause) {
    parts.push(
      el(
        "div",
        { class: depth === 0 ? "error-line" : "error-line cause" },
        depth === 0 ? null : el("span", { class: "muted" }, "caused by "),
        el("strong", {}, e.name),
        ": ",
        e.message,
        e.code === undefined ? null : el("code", { class: "code" }, e.code),
      ),
    );
  }
  if (error.stack)
    parts.push(el("details", {}, el("summary", {}, "stack"), el("pre", { class: "stack" }, error.stack)));
  return el("div", { class: "error-block" }, ...parts);
}

/** @param {unknown} value */
function byteSize(value) {
  try {
    return new TextEncoder().encode(JSON.stringify(value) ?? "").length;
  } catch {
    return 0;
  }
}

export class DetailPanel {
  /**
   * @param {{
   *   root: HTMLElement, title: HTMLElement, body: HTMLElement, close: HTMLButtonElement,
   *   onClose: () => void, onCancel: (id: string) => void
   * }} options
   */
  constructor(options) {
    this.root = options.root;
    this.title = options.title;
    this.body = options.body;
    this.onCancel = options.onCancel;
    /** @type {string | null} */
    this.openId = null;
    options.close.addEventListener("click", () => options.onClose());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.openId !== null) options.onClose();
    });
  }

  /** @param {string} id */
  showLoading(id) {
    this.openId = id;
    this.root.hidden = false;
    this.title.textContent = `Job ${id}`;
    this.body.replaceChildren(el("p", { class: "muted" }, "loading…"));
  }

  /**
   * @param {string} id
   * @param {string} message
   */
  showError(id, message) {
    this.openId = id;
    this.root.hidden = false;
    this.title.textContent = `Job ${id}`;
    this.body.replaceChildren(el("p", { class: "error-text", role: "alert" }, message));
  }

  hide() {
    this.openId = null;
    this.root.hidden = true;
    this.body.replaceChildren();
  }

  /** @param {Job} job */
  show(job) {
    const scroll = this.openId === job.id ? this.body.scrollTop : 0;
    this.openId = job.id;
    this.root.hidden = false;
    this.title.textContent = `Job ${job.id}`;
    const now = Date.now();
    const progress = describeProgress(job.progress);
    const bar = progressBar(`Progress of job ${job.id}`);
    setProgress(bar, progress.fraction);
    const cancel = isCancellable(job)
      ? el("button", { type: "button", class: "cancel", "data-testid": "detail-cancel" }, "Cancel job")
      : null;
    cancel?.addEventListener("click", () => this.onCancel(job.id));
    const queueWait =
      job.startedAt === null ? null : formatDuration(job.startedAt - Math.max(job.createdAt, job.runAt));
    const runTime = job.startedAt === null ? null : formatDuration((job.finishedAt ?? now) - job.startedAt);

    /** @type {Node[]} */
    const sections = [
      el(
        "div",
        { class: "detail-summary" },
        el("span", { class: "name", title: job.name }, job.name),
        el("span", { class: "state", "data-state": job.state, "data-testid": "detail-state" }, job.state),
        job.cancelRequested && job.state === "running" ? el("span", { class: "tag" }, "cancelling") : null,
        el("span", { class: "spacer" }),
        cancel,
      ),
      fields([
        ["attempt", `${job.attempt} of ${job.maxAttempts}`],
        ["priority", String(job.priority)],
        ["group", job.group],
        ["key", job.key],
        ["timeout", job.timeoutMs === null ? null : formatDuration(job.timeoutMs)],
        ["worker", job.leaseOwner],
        ["cancel reason", job.cancelReason],
      ]),
      section(
        "Progress",
        { "data-testid": "detail-progress" },
        progress.fraction === null ? null : bar,
        el(
          "p",
          {},
          job.progress === null || job.progress === undefined
            ? "none reported"
            : typeof job.progress === "string" // a text in full here; the row shows its start
              ? truncate(job.progress, 20_000)
              : progress.text,
        ),
        job.progress !== null && typeof job.progress === "object" && compactJson(job.progress).length > 40
          ? jsonBlock(job.progress)
          : null,
      ),
      section(
        "Timing",
        {},
        fields([
          ["created", formatTimestamp(job.createdAt)],
          ["run at", job.runAt > job.createdAt + 1 ? formatTimestamp(job.runAt) : null],
          ["started", job.startedAt === null ? null : formatTimestamp(job.startedAt)],
          ["finished", job.finishedAt === null ? null : formatTimestamp(job.finishedAt)],
          ["last progress", job.lastProgressAt === null ? null : formatTimestamp(job.lastProgressAt)],
          ["queue wait", queueWait],
          [job.finishedAt === null ? "running for" : "run time", runTime],
        ]),
      ),
      section(
        "Checkpoint",
        { "data-testid": "detail-checkpoint" },
        el(
          "p",
          {},
          job.checkpoint === null || job.checkpoint === undefined
            ? "none"
            : `saved (${byteSize(job.checkpoint).toLocaleString("en-US")} bytes)`,
        ),
      ),
    ];
    if (job.error !== null) {
      sections.push(
        section(
          job.state === "cancelled" ? "Cancelled" : "Error",
          { "data-testid": "detail-error" },
          errorBlock(job.error),
        ),
      );
    }
    if (job.errors.length > 0) {
      const items = job.errors.map((a) =>
        el(
          "li",
          {},
          el("span", { class: "attempt-head" }, `attempt ${a.attempt} · ${formatTimestamp(a.at)}`),
          errorBlock(a.error),
        ),
      );
      sections.push(
        section(`Attempts (${job.errors.length} failed)`, { "data-testid": "detail-attempts" }, el("ol", {}, ...items)),
      );
    }
    if (job.state === "completed")
      sections.push(section("Result", { "data-testid": "detail-result" }, jsonBlock(job.result)));
    sections.push(section("Input", { "data-testid": "detail-input" }, jsonBlock(job.input)));

    this.body.replaceChildren(...sections);
    this.body.scrollTop = scroll;
  }
}
