/**
 * ftrace text: what tracefs (`trace`, `trace_pipe`) and `trace-cmd report`
 * print. See docs/traces.md for the variants read and what they lose.
 */
import type { TraceFormatReader } from "../../model/format-reader.js";
import { openLineTrace, type TextReaderOptions } from "../text/line-trace-reader.js";
import { headLines, looksLikeText } from "../text/text-file.js";
import { createFtraceParser, FTRACE_EVENT_LINE } from "./ftrace-line-parser.js";

const STRONG = /^(# tracer: |cpus=\d+\s*$|version = \d+\s*$|CPU:\d+ \[LOST \d+ EVENTS\])/;

/** Recognises ftrace text by its header or by its first event lines (`comm-pid [cpu] … ts: event:`). */
export function detectFtraceText(head: Uint8Array): boolean {
  if (head.length === 0 || !looksLikeText(head)) return false;
  let seen = 0;
  for (const l of headLines(head, head.length >= 4096)) {
    if (l.trim().length === 0 || (l.startsWith("#") && !l.startsWith("# tracer: "))) continue;
    if (STRONG.test(l) || FTRACE_EVENT_LINE.test(l)) return true;
    if (++seen >= 20) break;
  }
  return false;
}

/** The ftrace text format (tracefs `trace`/`trace_pipe`, `trace-cmd report`). */
export const ftraceTextFormat: TraceFormatReader = {
  format: "ftrace-text",
  detect: detectFtraceText,
  open: (path: string, options: TextReaderOptions) => openLineTrace(path, { format: "ftrace-text", createParser: createFtraceParser }, options),
};
