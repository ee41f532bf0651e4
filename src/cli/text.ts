import stringWidth from "string-width";

/** Line ends of any kind, each becoming one space. */
const LINE_ENDS = /\r\n|[\r\n\u2028\u2029\u0085]/g;
/** C0 controls (ESC included), DEL and C1 controls (CSI included): a terminal would act on them. */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text from a job or the server (a name, a message, a progress label) made
 * fit for one line of a terminal: line ends become spaces, a tab a space,
 * and other control characters are dropped, so it can neither break a
 * one-line-per-event output or a redrawn block nor move the cursor, change
 * colours or retitle the window.
 */
export function oneLine(text: string): string {
  return text.replace(LINE_ENDS, " ").replace(/\t/g, " ").replace(CONTROLS, "");
}

/** As oneLine, but keeping line ends (LF): for messages printed as a block, such as an error's. */
export function safeText(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .replace(/\t/g, " ")
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, ""); // eslint-disable-line no-control-regex
}

/** How many terminal columns the text takes: wide characters count 2, combining marks 0. */
export function columns(text: string): number {
  return stringWidth(text);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The text cut to at most `max` columns, ending in "…" when cut. It cuts
 * between user-perceived characters: never inside a surrogate pair, an
 * emoji sequence or a character and its combining marks.
 */
export function fitColumns(text: string, max: number): string {
  if (columns(text) <= max) return text;
  if (max <= 0) return "";
  const room = max - 1; // the ellipsis takes one column
  let out = "";
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = columns(segment);
    if (used + w > room) break;
    out += segment;
    used += w;
  }
  return `${out}…`;
}

/** The text padded with spaces to `width` columns. */
export function padColumns(text: string, width: number): string {
  const w = columns(text);
  return w >= width ? text : text + " ".repeat(width - w);
}
