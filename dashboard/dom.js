// @ts-check
// DOM helpers. Job data only ever reaches the page as text nodes or attribute values, never as markup.

import { percentDown } from "./format.js";

/**
 * @typedef {string | number | boolean | null | undefined} AttrValue
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * Creates an element. Attributes are set with setAttribute (`class`, `data-*`, `aria-*`, ...);
 * `false`, `null` and `undefined` leave an attribute out; children are nodes or text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

/**
 * @param {Element} parent
 * @param {...Child} children
 */
export function append(parent, ...children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "number" ? String(child) : child);
  }
}

/**
 * Sets an element's text only when it changed (cheap for elements updated many times a second).
 * @param {Element} node
 * @param {string} text
 */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * @param {Element} node
 * @param {string} name
 * @param {string | null} value null removes the attribute
 */
export function setAttr(node, name, value) {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

/**
 * The element with this id, of the expected type.
 * @template {typeof HTMLElement} T
 * @param {string} id
 * @param {T} type
 * @returns {InstanceType<T>}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`dashboard: #${id} is missing from index.html`);
  return /** @type {InstanceType<T>} */ (node);
}

/**
 * A progress bar (role=progressbar); update it with setProgress.
 * @param {string} label accessible name
 */
export function progressBar(label) {
  const fill = el("span", { class: "bar-fill" });
  const bar = el(
    "span",
    { class: "bar", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100 },
    fill,
  );
  return bar;
}

/**
 * @param {HTMLElement} bar an element made by progressBar
 * @param {number | null} fraction 0..1, or null for "unknown" (the bar is hidden)
 */
export function setProgress(bar, fraction) {
  const fill = /** @type {HTMLElement | null} */ (bar.firstElementChild);
  if (fraction === null) {
    setAttr(bar, "hidden", "");
    setAttr(bar, "aria-valuenow", null);
    return;
  }
  setAttr(bar, "hidden", null);
  // rounded down like formatPercent: only a whole 1 fills the bar
  const pct = percentDown(Math.min(1, Math.max(0, fraction)), true);
  setAttr(bar, "aria-valuenow", String(pct));
  if (fill) fill.style.width = `${pct}%`;
}
