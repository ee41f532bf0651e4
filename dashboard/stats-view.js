// @ts-check
// The header's health badge and issues, and the statistics tiles.

import { JOB_STATES } from "./api.js";
import { byId, el, setAttr, setProgress, setText } from "./dom.js";
import { formatCount, formatDuration, formatPercent, formatRate } from "./format.js";

/** @typedef {import("./api.js").Stats} Stats */
/** @typedef {import("./api.js").Health} Health */
/** @typedef {import("./api.js").HealthIssue} HealthIssue */

/** @param {string} testId */
function testNode(testId) {
  const node = document.querySelector(`[data-testid="${testId}"]`);
  if (!node) throw new Error(`dashboard: [data-testid=${testId}] is missing from index.html`);
  return node;
}

/**
 * One line per issue, naming the job and its age where there is one.
 * @param {HealthIssue} issue
 */
export function describeIssue(issue) {
  const job =
    issue.jobId === undefined ? "" : `job ${issue.jobId}${issue.name === undefined ? "" : ` (${issue.name})`}`;
  const age = formatDuration(issue.ageMs);
  switch (issue.kind) {
    case "no-progress":
      return `${job}: no progress for ${age}`;
    case "overdue":
      return `${job}: running for ${age}, past its timeout`;
    case "zombie":
      return `${job}: handler still running after an abort (${age}), its slot is held`;
    case "stalled":
      return `${issue.message.replace(/ for \d+ ms$/, "")} for ${age}`;
    default:
      return issue.message;
  }
}

const KIND_LABELS = /** @type {Record<string, string>} */ ({
  "no-progress": "stuck",
  overdue: "overdue",
  zombie: "zombie",
  stalled: "stalled",
  "event-loop-lag": "event-loop lag",
});

export class StatsView {
  constructor() {
    /** @type {Map<string, Element>} */
    this.nodes = new Map();
    for (const id of [
      ...JOB_STATES.map((s) => `count-${s}`),
      "stat-running",
      "stat-capacity",
      "stat-utilization",
      "stat-throughput",
      "stat-wait-p50",
      "stat-wait-p95",
      "stat-run-p50",
      "stat-run-p95",
      "total-submitted",
      "total-completed",
      "total-failed",
      "total-retried",
      "total-cancelled",
    ]) {
      this.nodes.set(id, testNode(id));
    }
    this.utilizationBar = byId("utilization-bar", HTMLElement);
    this.updated = byId("updated", HTMLElement);
    this.badge = byId("health-badge", HTMLElement);
    this.healthSummary = byId("health-summary", HTMLElement);
    this.healthPanel = byId("health-panel", HTMLElement);
    this.healthIssues = byId("health-issues", HTMLUListElement);
    /** @type {string} */
    this.issuesKey = "";
  }

  /**
   * @param {string} id
   * @param {string} text
   */
  set(id, text) {
    const node = this.nodes.get(id);
    if (node) setText(node, text);
  }

  /** @param {Stats} stats */
  renderStats(stats) {
    for (const state of JOB_STATES) this.set(`count-${state}`, formatCount(stats.counts[state] ?? 0));
    this.set("stat-running", formatCount(stats.running));
    this.set(
      "stat-capacity",
      stats.capacity === null || !Number.isFinite(stats.capacity) ? "∞" : formatCount(stats.capacity),
    );
    this.set("stat-utilization", formatPercent(stats.utilization));
    setProgress(this.utilizationBar, stats.utilization);
    // every slot busy: jobs are waiting on capacity
    setAttr(this.utilizationBar, "data-level", stats.utilization >= 0.999 ? "full" : null);
    this.set("stat-throughput", formatRate(stats.throughputPerSecond));
    this.set("stat-wait-p50", formatDuration(stats.queueWaitMs.p50));
    this.set("stat-wait-p95", formatDuration(stats.queueWaitMs.p95));
    this.set("stat-run-p50", formatDuration(stats.runTimeMs.p50));
    this.set("stat-run-p95", formatDuration(stats.runTimeMs.p95));
    for (const key of /** @type {const} */ (["submitted", "completed", "failed", "retried", "cancelled"])) {
      this.set(`total-${key}`, formatCount(stats.totals[key]));
    }
    setText(this.updated, `updated ${new Date().toLocaleTimeString("en-GB")}`);
  }

  /** @param {Health} health */
  renderHealth(health) {
    setAttr(this.badge, "data-status", health.status);
    setText(this.badge, health.status);
    const n = health.issues.length;
    const summary = [n === 0 ? "" : `${n} issue${n === 1 ? "" : "s"}`, health.running ? "" : "worker not running"];
    setText(this.healthSummary, summary.filter(Boolean).join(" · "));
    // rebuild the list only when the issues changed (ages tick, so compare the lines themselves)
    const lines = health.issues.map((issue) => [
      KIND_LABELS[issue.kind] ?? issue.kind,
      describeIssue(issue),
      issue.message,
    ]);
    const key = JSON.stringify(lines);
    if (key === this.issuesKey) return;
    this.issuesKey = key;
    this.healthIssues.replaceChildren(
      ...lines.map(([label, text, message]) =>
        el("li", { class: "issue", title: message }, el("span", { class: "issue-kind" }, label), " ", text),
      ),
    );
    this.healthPanel.hidden = n === 0;
  }

  /** Health could not be read. */
  renderHealthUnknown() {
    setAttr(this.badge, "data-status", "unknown");
    setText(this.badge, "unknown");
  }
}
