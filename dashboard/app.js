// @ts-check
// The dashboard's entry point: loads stats, health and the first page of jobs, then follows the
// event stream. Events are coalesced per job and rendered at most every 250 ms; jobs the table does
// not hold yet are fetched one by one when few, or with one list request when many. Jobs run by
// workers elsewhere on a shared store send no events here: a change in the counts re-reads the first page.

import { Api, ApiError } from "./api.js";
import { DetailPanel } from "./detail-panel.js";
import { byId, setAttr, setText } from "./dom.js";
import { formatCount } from "./format.js";
import { JobsTable } from "./jobs-table.js";
import { FrameBatcher, LiveConnection } from "./live.js";
import { StatsView } from "./stats-view.js";

/** @typedef {import("./api.js").Job} Job */
/** @typedef {import("./api.js").JobState} JobState */
/** @typedef {import("./api.js").Stats} Stats */
/** @typedef {import("./jobs-table.js").JobPatch} JobPatch */
/** @typedef {import("./live.js").EventName} EventName */
/** @typedef {import("./live.js").ConnectionState} ConnectionState */
/** @typedef {{ name: string | undefined, patch: JobPatch }} Pending */

const PAGE_SIZE = 50;
/** Unknown jobs in one flush up to this many are fetched one by one; more take one list request. */
const FETCH_EACH_MAX = 8;
const HEALTH_EVERY_MS = 3000;
const DETAIL_REFRESH_MS = 1000;
/** While running jobs are shown, the first page is re-read every this many stats events (5 s by default). */
const RUNNING_REREAD_EVERY = 5;

/** @param {unknown} err */
const messageOf = (err) => (err instanceof Error ? err.message : String(err));

/**
 * What an event says about its job.
 * @param {EventName} name
 * @param {Record<string, unknown>} e
 * @param {number} now
 * @returns {JobPatch | null}
 */
function patchFromEvent(name, e, now) {
  const attempt = typeof e.attempt === "number" ? e.attempt : undefined;
  switch (name) {
    case "submitted":
      return { state: "queued" };
    case "started":
      return { state: "running", attempt, startedAt: now, finishedAt: undefined };
    case "progress":
      return { state: "running", progress: e.progress, lastProgressAt: now };
    case "retrying": {
      const error = /** @type {import("./api.js").SerializedError} */ (e.error);
      /** @type {JobPatch} */
      const patch = { state: "queued", attempt, error };
      if (typeof e.runAt === "number") patch.runAt = e.runAt;
      if (attempt !== undefined && error) patch.newErrors = [{ attempt, at: now, error }];
      return patch;
    }
    case "completed":
      return { state: "completed", attempt, finishedAt: now };
    case "failed":
      return {
        state: "failed",
        attempt,
        finishedAt: now,
        error: /** @type {import("./api.js").SerializedError} */ (e.error),
      };
    case "cancelled":
      return { state: "cancelled", finishedAt: now, cancelReason: typeof e.reason === "string" ? e.reason : undefined };
    default:
      return null;
  }
}

/**
 * Later events win; retry errors add up.
 * @param {JobPatch} into
 * @param {JobPatch} patch
 */
function mergePatch(into, patch) {
  const newErrors = into.newErrors && patch.newErrors ? [...into.newErrors, ...patch.newErrors] : undefined;
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined || key === "progress") Object.assign(into, { [key]: value });
  }
  if (newErrors) into.newErrors = newErrors;
  return into;
}

class Dashboard {
  constructor() {
    this.api = Api.fromPage(location.href);
    this.stats = new StatsView();
    this.banner = byId("banner", HTMLElement);
    this.connection = byId("connection", HTMLElement);
    this.summary = byId("jobs-summary", HTMLElement);
    this.olderButton = byId("older", HTMLButtonElement);
    this.stateFilter = byId("state-filter", HTMLSelectElement);
    this.nameFilter = byId("name-filter", HTMLInputElement);
    this.table = new JobsTable({
      body: byId("jobs-body", HTMLTableSectionElement),
      empty: byId("jobs-empty", HTMLElement),
      names: byId("job-names", HTMLDataListElement),
      onOpen: (id) => void this.openDetail(id),
      onCancel: (id) => void this.cancel(id),
    });
    this.detail = new DetailPanel({
      root: byId("detail", HTMLElement),
      title: byId("detail-title", HTMLElement),
      body: byId("detail-body", HTMLElement),
      close: byId("detail-close", HTMLButtonElement),
      onClose: () => this.closeDetail(),
      onCancel: (id) => void this.cancel(id),
    });
    this.batcher = new FrameBatcher(() => this.flush());
    this.live = new LiveConnection({
      url: this.api.eventsUrl(),
      onEvent: (name, data) => this.onEvent(name, data),
      onState: (state) => this.setConnection(state),
      onReconnected: () => void this.reload(),
    });

    /** Events not yet rendered, coalesced per job. @type {Map<string, Pending>} */
    this.pending = new Map();
    /** Jobs being fetched, with what events said meanwhile. @type {Map<string, JobPatch>} */
    this.inflight = new Map();
    /** @type {Stats | null} */
    this.latestStats = null;
    /** The counts of the last stats event, to see changes no event of this server announced. @type {string | null} */
    this.countsSeen = null;
    /** Stats events since the first page was last re-read for them. */
    this.quietStats = 0;
    /** Bumped on every reload, so answers for an older filter are dropped. */
    this.generation = 0;
    this.loaded = false;
    this.headBusy = false;
    this.headAgain = false;
    this.authFailed = false;
    this.detailBusy = false;
    this.detailAgain = false;
    this.detailLastAt = 0;
  }

  start() {
    this.stateFilter.addEventListener("change", () => void this.reload());
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let typing;
    this.nameFilter.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => void this.reload(), 300);
    });
    this.nameFilter.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      clearTimeout(typing);
      void this.reload();
    });
    for (const button of document.querySelectorAll("button.count[data-state]")) {
      button.addEventListener("click", () => {
        const state = button.getAttribute("data-state") ?? "";
        this.stateFilter.value = this.stateFilter.value === state ? "" : state;
        void this.reload();
      });
    }
    this.olderButton.addEventListener("click", () => void this.loadOlder());
    setInterval(() => this.table.tick(Date.now()), 1000);

    this.live.start();
    void this.refreshStats();
    void this.pollHealth();
    void this.reload();
  }

  // ---- loading ----

  /** The first page for the current filter (also after a reconnect: events may have been missed). */
  async reload() {
    const generation = ++this.generation;
    this.table.filter = {
      state: /** @type {JobState | ""} */ (this.stateFilter.value),
      name: this.nameFilter.value.trim(),
    };
    this.updateFilterButtons();
    this.loaded = false;
    this.pending.clear();
    setText(this.summary, "loading…");
    try {
      const page = await this.api.listJobs({ ...this.table.filter, limit: PAGE_SIZE });
      if (generation !== this.generation) return;
      this.table.reset(page);
      this.loaded = true;
      this.ok();
      this.batcher.schedule();
    } catch (err) {
      if (generation === this.generation) this.fail(err);
    }
    this.renderSummary();
  }

  async loadOlder() {
    const beforeId = this.table.next;
    if (beforeId === null) return;
    const generation = this.generation;
    this.olderButton.disabled = true;
    try {
      const page = await this.api.listJobs({ ...this.table.filter, beforeId, limit: PAGE_SIZE });
      if (generation === this.generation) this.table.appendPage(page);
    } catch (err) {
      this.fail(err);
    } finally {
      this.olderButton.disabled = false;
      this.renderSummary();
    }
  }

  async refreshStats() {
    try {
      this.stats.renderStats(await this.api.stats());
      this.ok();
    } catch (err) {
      this.fail(err);
    }
  }

  async pollHealth() {
    if (this.authFailed) return;
    try {
      this.stats.renderHealth(await this.api.health());
      this.ok();
      // without the stream, stats come from here too
      if (this.connection.getAttribute("data-state") !== "live") await this.refreshStats();
    } catch (err) {
      this.stats.renderHealthUnknown();
      this.fail(err);
    }
    if (!this.authFailed) setTimeout(() => void this.pollHealth(), HEALTH_EVERY_MS);
  }

  // ---- live updates ----

  /**
   * @param {EventName} name
   * @param {unknown} data
   */
  onEvent(name, data) {
    if (data === null || typeof data !== "object") return;
    if (name === "stats") {
      const stats = /** @type {Stats} */ (data);
      this.latestStats = stats;
      // jobs that workers elsewhere run (on a shared store) send this server no events: when the
      // counts move, re-read the first page and the open job (each at most once per stats event);
      // while running jobs are shown, every few stats events anyway, for the progress they saved
      const counts = JSON.stringify(stats.counts);
      const moved = this.countsSeen !== null && counts !== this.countsSeen;
      this.countsSeen = counts;
      this.quietStats = moved ? 0 : this.quietStats + 1;
      const due = this.quietStats >= RUNNING_REREAD_EVERY && this.table.hasRunning();
      if (this.loaded && (moved || due)) {
        this.quietStats = 0;
        void this.refreshHead();
        if (this.detail.openId !== null) void this.refreshDetail();
      }
      this.batcher.schedule();
      return;
    }
    const e = /** @type {Record<string, unknown>} */ (data);
    if (typeof e.id !== "string") return;
    const patch = patchFromEvent(name, e, Date.now());
    if (patch === null) return;
    const entry = this.pending.get(e.id);
    if (entry) mergePatch(entry.patch, patch);
    else this.pending.set(e.id, { name: typeof e.name === "string" ? e.name : undefined, patch });
    this.batcher.schedule();
  }

  /** One render: everything that arrived since the last one. */
  flush() {
    if (this.latestStats !== null) {
      this.stats.renderStats(this.latestStats);
      this.latestStats = null;
    }
    if (!this.loaded) return; // reload() schedules a flush when the first page is in
    /** @type {string[]} */
    const unknown = [];
    let detailChanged = false;
    for (const [id, { name, patch }] of this.pending) {
      if (id === this.detail.openId) detailChanged = true;
      const fetching = this.inflight.get(id);
      if (this.table.has(id)) this.table.applyPatch(id, patch);
      else if (fetching) mergePatch(fetching, patch);
      else if (this.table.inWindow(id) && this.table.matches({ state: patch.state, name })) {
        // the snapshot fetched will be newer than these events; only later ones apply on top of it
        this.inflight.set(id, {});
        unknown.push(id);
      }
    }
    this.pending.clear();
    this.table.afterChange();
    if (unknown.length > FETCH_EACH_MAX) {
      for (const id of unknown) this.inflight.delete(id);
      void this.refreshHead();
    } else if (unknown.length > 0) {
      void this.fetchEach(unknown);
    }
    if (detailChanged) void this.refreshDetail();
    this.renderSummary();
  }

  /** @param {string[]} ids */
  async fetchEach(ids) {
    const generation = this.generation;
    const jobs = await Promise.all(ids.map((id) => this.api.getJob(id).catch(() => null)));
    for (const [i, id] of ids.entries()) {
      const after = this.inflight.get(id);
      this.inflight.delete(id);
      const job = jobs[i];
      if (!job || generation !== this.generation) continue;
      this.table.upsert(job);
      if (after) this.table.applyPatch(id, after);
    }
    this.table.afterChange();
    this.renderSummary();
  }

  /** The first page again, merged: one request, however many jobs arrived. Never two at once. */
  async refreshHead() {
    if (this.headBusy) {
      this.headAgain = true;
      return;
    }
    this.headBusy = true;
    const generation = this.generation;
    try {
      const page = await this.api.listJobs({ ...this.table.filter, limit: PAGE_SIZE });
      if (generation === this.generation) this.table.syncHead(page);
    } catch (err) {
      this.fail(err);
    }
    this.renderSummary();
    // at most one list request per frame interval, however fast jobs arrive
    setTimeout(() => {
      this.headBusy = false;
      if (this.headAgain) {
        this.headAgain = false;
        void this.refreshHead();
      }
    }, 250);
  }

  // ---- actions ----

  /** @param {string} id */
  async cancel(id) {
    try {
      const cancelled = await this.api.cancelJob(id);
      if (cancelled) this.table.markCancelling(id);
      else this.showBanner(`Job ${id} was not cancelled: it had already finished.`, "notice");
      if (this.detail.openId === id) void this.refreshDetail(true);
    } catch (err) {
      this.fail(err);
    }
  }

  /** @param {string} id */
  async openDetail(id) {
    this.table.select(id);
    if (this.detail.openId !== id) this.detail.showLoading(id);
    await this.refreshDetail(true);
  }

  closeDetail() {
    this.detail.hide();
    this.table.select(null);
  }

  /** Re-reads the open job: at once when asked, else at most once a second. */
  async refreshDetail(now = false) {
    const id = this.detail.openId;
    if (id === null) return;
    const wait = now ? 0 : this.detailLastAt + DETAIL_REFRESH_MS - Date.now();
    if (this.detailBusy || wait > 0) {
      if (!this.detailAgain) {
        this.detailAgain = true;
        setTimeout(
          () => {
            this.detailAgain = false;
            void this.refreshDetail();
          },
          Math.max(wait, 100),
        );
      }
      return;
    }
    this.detailBusy = true;
    this.detailLastAt = Date.now();
    try {
      const job = await this.api.getJob(id);
      if (this.detail.openId === id) this.detail.show(job);
    } catch (err) {
      if (this.detail.openId === id) this.detail.showError(id, messageOf(err));
    } finally {
      this.detailBusy = false;
    }
  }

  // ---- status ----

  /** @param {ConnectionState | "unauthorized"} state */
  setConnection(state) {
    if (this.authFailed && state !== "unauthorized") return;
    const labels = {
      connecting: "connecting…",
      live: "live",
      reconnecting: "reconnecting…",
      offline: "offline",
      unauthorized: "not authorized",
    };
    setAttr(this.connection, "data-state", state);
    setText(this.connection, labels[state]);
  }

  renderSummary() {
    const n = this.table.size;
    const parts = [`${formatCount(n)} job${n === 1 ? "" : "s"} shown`];
    if (this.table.next !== null) parts.push("older jobs available");
    if (this.loaded) setText(this.summary, parts.join(" · "));
    this.olderButton.hidden = this.table.next === null;
  }

  updateFilterButtons() {
    for (const button of document.querySelectorAll("button.count[data-state]")) {
      setAttr(button, "aria-pressed", String(button.getAttribute("data-state") === this.table.filter.state));
    }
  }

  /**
   * @param {string} message
   * @param {"error" | "auth" | "notice"} kind
   */
  showBanner(message, kind) {
    setAttr(this.banner, "data-kind", kind);
    setText(this.banner, message);
    this.banner.hidden = false;
    if (kind === "notice") {
      setTimeout(() => {
        if (this.banner.textContent === message) this.banner.hidden = true;
      }, 6000);
    }
  }

  /** A request succeeded: a stale network error no longer applies. */
  ok() {
    if (!this.banner.hidden && this.banner.getAttribute("data-kind") === "error") this.banner.hidden = true;
  }

  /** @param {unknown} err */
  fail(err) {
    if (err instanceof ApiError && err.unauthorized) {
      if (this.authFailed) return;
      this.authFailed = true;
      this.live.stop();
      this.setConnection("unauthorized");
      this.showBanner(
        this.api.token === null
          ? "Not authorized: this server needs a token. Open the dashboard with ?token=<token> in its address."
          : "Not authorized: the server refused the token in this page's address (?token=…).",
        "auth",
      );
      setText(this.summary, "");
      return;
    }
    this.showBanner(messageOf(err), "error");
  }
}

new Dashboard().start();
