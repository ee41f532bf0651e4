// @ts-check
// The jobs table: newest first, filtered by state and name, paged with the API's `next` cursor,
// and updated in place from the event stream.

import { el, progressBar, setAttr, setProgress, setText } from "./dom.js";
import { compareIds, describeProgress, describeTiming, formatCount, formatTimestamp } from "./format.js";

/** @typedef {import("./api.js").Job} Job */
/** @typedef {import("./api.js").JobState} JobState */
/** @typedef {import("./api.js").JobPage} JobPage */
/** @typedef {import("./api.js").SerializedError} SerializedError */
/** @typedef {import("./api.js").AttemptError} AttemptError */
/**
 * What events tell about a job; fields absent are unknown. `progress` counts when the key is present.
 * @typedef {{
 *   state?: JobState, attempt?: number, progress?: unknown, error?: SerializedError | null,
 *   newErrors?: AttemptError[], startedAt?: number, finishedAt?: number, runAt?: number,
 *   lastProgressAt?: number, cancelReason?: string
 * }} JobPatch
 */
/** @typedef {{ state: JobState | "", name: string }} Filter */
/**
 * @typedef {{
 *   job: Job, tr: HTMLTableRowElement, name: HTMLTableCellElement, state: HTMLElement, stateTag: HTMLElement,
 *   priority: HTMLTableCellElement, attempt: HTMLTableCellElement, bar: HTMLElement, progressText: HTMLElement,
 *   group: HTMLTableCellElement, timing: HTMLTableCellElement, cancel: HTMLButtonElement
 * }} Row
 */

/** @param {JobState} state */
export const isTerminal = (state) => state === "completed" || state === "failed" || state === "cancelled";

/** @param {Job} job */
export const isCancellable = (job) => !isTerminal(job.state) && !job.cancelRequested;

/**
 * The newest of `id` and the jobs' ids.
 * @param {string | null} id
 * @param {Job[]} jobs
 */
function newestId(id, jobs) {
  let newest = id;
  for (const job of jobs) if (newest === null || compareIds(job.id, newest) > 0) newest = job.id;
  return newest;
}

export class JobsTable {
  /**
   * @param {{
   *   body: HTMLTableSectionElement, empty: HTMLElement, names: HTMLDataListElement,
   *   onOpen: (id: string) => void, onCancel: (id: string) => void, maxRows?: number
   * }} options
   */
  constructor(options) {
    this.body = options.body;
    this.empty = options.empty;
    this.namesList = options.names;
    this.maxRows = options.maxRows ?? 500;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** Row ids, newest first (the DOM order). @type {string[]} */
    this.order = [];
    /**
     * The `beforeId` of the next older page; the table holds every matching job with an id at or
     * above it (all of them when null).
     * @type {string | null}
     */
    this.next = null;
    /**
     * The newest id of the first pages read so far (reset / syncHead), null before one had a job.
     * Stores hand out increasing ids, so every job newer than it was submitted after that read.
     * @type {string | null}
     */
    this.headTop = null;
    /** @type {Filter} */
    this.filter = { state: "", name: "" };
    /** @type {string | null} */
    this.selectedId = null;
    /** @type {Set<string>} */
    this.names = new Set();

    this.body.addEventListener("click", (event) => {
      const target = /** @type {Element} */ (event.target);
      const tr = target.closest("tr[data-job-id]");
      const id = tr?.getAttribute("data-job-id");
      if (!id) return;
      if (target.closest("button.cancel")) options.onCancel(id);
      else if (!target.closest("a, input, select")) options.onOpen(id);
    });
  }

  get size() {
    return this.rows.size;
  }

  /** @param {string} id */
  has(id) {
    return this.rows.has(id);
  }

  /** Whether a shown job is running (its progress may move without an event reaching this page). */
  hasRunning() {
    for (const row of this.rows.values()) if (row.job.state === "running") return true;
    return false;
  }

  /** @param {string} id */
  get(id) {
    return this.rows.get(id)?.job;
  }

  /** @param {{ state?: JobState, name?: string }} job */
  matches(job) {
    if (this.filter.state !== "" && job.state !== undefined && job.state !== this.filter.state) return false;
    if (this.filter.name !== "" && job.name !== undefined && job.name !== this.filter.name) return false;
    return true;
  }

  /** Whether a job with this id belongs to the loaded window (else it is on an older page). @param {string} id */
  inWindow(id) {
    return this.next === null || compareIds(id, this.next) >= 0;
  }

  /** Replaces everything with a first page. @param {JobPage} page */
  reset(page) {
    this.rows.clear();
    this.order = [];
    this.body.replaceChildren();
    this.next = page.next;
    this.headTop = newestId(null, page.jobs);
    for (const job of page.jobs) this.insert(job);
    this.afterChange();
  }

  /** Adds an older page (the "older" button). @param {JobPage} page */
  appendPage(page) {
    this.next = page.next;
    for (const job of page.jobs) this.upsert(job);
    this.afterChange();
  }

  /**
   * Merges a fresh first page: its rows are replaced or added, rows in its range that it lacks
   * have left the filter, and rows older than the page stay as they are (with the `next` cursor
   * below them, so "Older jobs" still continues where they end).
   *
   * Jobs submitted since the last read of the first page are newer than `headTop`; a page that
   * does not reach back to `headTop` may have left some of them out (a burst of more new jobs than
   * a page), between its oldest row and the rows held. Rather than keep a gap that "Older jobs"
   * would never fill, the table then starts over from this page.
   * @param {JobPage} page
   */
  syncHead(page) {
    if (page.next !== null && (this.headTop === null || compareIds(page.next, this.headTop) > 0)) {
      this.reset(page);
      return;
    }
    const fresh = new Set(page.jobs.map((j) => j.id));
    for (const id of [...this.order]) {
      if (!fresh.has(id) && (page.next === null || compareIds(id, page.next) >= 0)) this.remove(id);
    }
    // the table now holds every matching job from the older of the two cursors up
    if (page.next === null || (this.next !== null && compareIds(page.next, this.next) < 0)) this.next = page.next;
    this.headTop = newestId(this.headTop, page.jobs);
    for (const job of page.jobs) this.upsert(job);
    this.afterChange();
  }

  /**
   * A snapshot from the server: replaces the row, inserts it when it belongs to the window, or
   * removes the row when it no longer matches the filter.
   * @param {Job} job
   */
  upsert(job) {
    const row = this.rows.get(job.id);
    if (!this.matches(job)) {
      if (row) this.remove(job.id);
      return;
    }
    if (row) {
      const cancelling = row.job.cancelRequested && !isTerminal(job.state);
      row.job = cancelling ? { ...job, cancelRequested: true } : job;
      this.updateRow(row, Date.now());
    } else if (this.inWindow(job.id)) {
      this.insert(job);
    }
  }

  /**
   * Applies what an event said. A job in a terminal state stays as it is (the state is final).
   * @param {string} id
   * @param {JobPatch} patch
   */
  applyPatch(id, patch) {
    const row = this.rows.get(id);
    if (!row || isTerminal(row.job.state)) return;
    const job = { ...row.job };
    if (patch.state !== undefined) job.state = patch.state;
    if (patch.attempt !== undefined) job.attempt = patch.attempt;
    if ("progress" in patch) job.progress = patch.progress;
    if (patch.error !== undefined) job.error = patch.error;
    if (patch.newErrors !== undefined) job.errors = [...job.errors, ...patch.newErrors];
    if (patch.startedAt !== undefined) job.startedAt = patch.startedAt;
    if (patch.finishedAt !== undefined) job.finishedAt = patch.finishedAt;
    if (patch.runAt !== undefined) job.runAt = patch.runAt;
    if (patch.lastProgressAt !== undefined) job.lastProgressAt = patch.lastProgressAt;
    if (patch.cancelReason !== undefined) job.cancelReason = patch.cancelReason;
    if (isTerminal(job.state)) job.cancelRequested = false;
    if (!this.matches(job)) {
      this.remove(id);
      return;
    }
    row.job = job;
    this.updateRow(row, Date.now());
  }

  /** Marks a job whose cancel was accepted while it runs. @param {string} id */
  markCancelling(id) {
    const row = this.rows.get(id);
    if (!row || isTerminal(row.job.state)) return;
    row.job = { ...row.job, cancelRequested: true };
    this.updateRow(row, Date.now());
  }

  /** @param {string} id */
  remove(id) {
    const row = this.rows.get(id);
    if (!row) return;
    row.tr.remove();
    this.rows.delete(id);
    const i = this.order.indexOf(id);
    if (i >= 0) this.order.splice(i, 1);
  }

  /** @param {string | null} id */
  select(id) {
    if (this.selectedId !== null) this.rows.get(this.selectedId)?.tr.removeAttribute("aria-current");
    this.selectedId = id;
    if (id !== null) this.rows.get(id)?.tr.setAttribute("aria-current", "true");
  }

  /** Updates the age / duration column. @param {number} now */
  tick(now) {
    for (const row of this.rows.values()) this.updateTiming(row, now);
  }

  /** Keeps the table bounded: drops the oldest rows past maxRows (they come back with "older"). */
  afterChange() {
    while (this.order.length > this.maxRows) {
      const oldest = /** @type {string} */ (this.order[this.order.length - 1]);
      this.remove(oldest);
      this.next = /** @type {string} */ (this.order[this.order.length - 1]);
    }
    this.empty.hidden = this.rows.size > 0;
    this.refreshNames();
  }

  /** @param {Job} job */
  insert(job) {
    const row = this.buildRow(job);
    // newest first: find the first row older than this job (new jobs land at the top: i = 0)
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIds(/** @type {string} */ (this.order[mid]), job.id) > 0) lo = mid + 1;
      else hi = mid;
    }
    const before = this.order[lo];
    this.body.insertBefore(row.tr, before === undefined ? null : (this.rows.get(before)?.tr ?? null));
    this.order.splice(lo, 0, job.id);
    this.rows.set(job.id, row);
    if (job.id === this.selectedId) row.tr.setAttribute("aria-current", "true");
    if (this.names.size < 200) this.names.add(job.name);
  }

  /** @param {Job} job @returns {Row} */
  buildRow(job) {
    const state = el("span", { class: "state" });
    const stateTag = el("span", { class: "tag", hidden: true }, "cancelling");
    const bar = progressBar(`Progress of job ${job.id}`);
    const progressText = el("span", { class: "progress-text" });
    const cancel = el(
      "button",
      { type: "button", class: "cancel", "data-testid": "cancel", "aria-label": `Cancel job ${job.id}` },
      "Cancel",
    );
    const name = el("td", { class: "name" });
    const priority = el("td", { class: "num" });
    const attempt = el("td", { class: "num" });
    const group = el("td", { class: "group" });
    const timing = el("td", { class: "timing" });
    const tr = el(
      "tr",
      { "data-testid": "job-row", "data-job-id": job.id },
      el(
        "td",
        { class: "id" },
        el("button", { type: "button", class: "link", "aria-label": `Details of job ${job.id}` }, job.id),
      ),
      name,
      el("td", {}, state, " ", stateTag),
      priority,
      attempt,
      el("td", { class: "progress" }, bar, progressText),
      group,
      timing,
      el("td", { class: "actions" }, cancel),
    );
    /** @type {Row} */
    const row = { job, tr, name, state, stateTag, priority, attempt, bar, progressText, group, timing, cancel };
    this.updateRow(row, Date.now());
    return row;
  }

  /**
   * @param {Row} row
   * @param {number} now
   */
  updateRow(row, now) {
    const { job } = row;
    setAttr(row.tr, "data-state", job.state);
    setText(row.name, job.name);
    setAttr(row.name, "title", job.key === null ? job.name : `${job.name} · key ${job.key}`);
    setText(row.state, job.state);
    setAttr(row.state, "data-state", job.state);
    row.stateTag.hidden = !(job.cancelRequested && !isTerminal(job.state));
    setText(row.priority, formatCount(job.priority));
    setText(row.attempt, `${job.attempt}/${job.maxAttempts}`);
    const progress = describeProgress(job.progress);
    setProgress(row.bar, progress.fraction);
    setText(row.progressText, progress.text);
    setAttr(row.progressText, "title", progress.text === "" ? null : progress.text);
    setText(row.group, job.group ?? "—");
    row.cancel.hidden = isTerminal(job.state);
    row.cancel.disabled = !isCancellable(job);
    this.updateTiming(row, now);
  }

  /**
   * @param {Row} row
   * @param {number} now
   */
  updateTiming(row, now) {
    const { job } = row;
    setText(row.timing, describeTiming(job, now));
    const title = [
      `created ${formatTimestamp(job.createdAt)}`,
      job.startedAt === null ? null : `started ${formatTimestamp(job.startedAt)}`,
      job.finishedAt === null ? null : `finished ${formatTimestamp(job.finishedAt)}`,
    ];
    setAttr(row.timing, "title", title.filter(Boolean).join("\n"));
  }

  refreshNames() {
    if (this.names.size === this.namesList.children.length) return;
    const names = [...this.names].sort();
    this.namesList.replaceChildren(...names.map((name) => el("option", { value: name })));
  }
}
