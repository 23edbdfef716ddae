/**
 * `perf script` text (best with `--ns`). See docs/traces.md for the fields it needs.
 */
import type { TraceFormatReader } from "../../model/format-reader.js";
import { FTRACE_EVENT_LINE } from "../ftrace-text/ftrace-line-parser.js";
import { openLineTrace, type TextReaderOptions } from "../text/line-trace-reader.js";
import { headLines, looksLikeText } from "../text/text-file.js";
import { createPerfScriptParser, PERF_TIME } from "./perf-script-parser.js";

const PERF_HEADER = /^# (========|captured on|perf version)/;
const EVENT_AFTER_TIME = /^\s*(?:\d+ +)?\S+?:(?: |$)/;

/**
 * Recognises `perf script` text: its `--header` block, or sample lines with a
 * `sec.frac:` time followed by an event name, which are not ftrace lines.
 */
export function detectPerfScript(head: Uint8Array): boolean {
  if (head.length === 0 || !looksLikeText(head)) return false;
  let seen = 0;
  for (const l of headLines(head, head.length >= 4096)) {
    if (PERF_HEADER.test(l)) return true;
    if (l.trim().length === 0 || l.startsWith("#") || l.startsWith("\t")) continue;
    const t = PERF_TIME.exec(l);
    if (t !== null && !FTRACE_EVENT_LINE.test(l) && EVENT_AFTER_TIME.test(l.slice(t.index + t[0].length))) return true;
    if (++seen >= 20) break;
  }
  return false;
}

/** The `perf script` text format. */
export const perfScriptFormat: TraceFormatReader = {
  format: "perf-script",
  detect: detectPerfScript,
  open: (path: string, options: TextReaderOptions) => openLineTrace(path, { format: "perf-script", createParser: createPerfScriptParser }, options),
};
