/**
 * JSON lines traces (one event object per line); the schema is in docs/traces.md.
 */
import type { TraceFormatReader } from "../../model/format-reader.js";
import { openLineTrace, type TextReaderOptions } from "../text/line-trace-reader.js";
import { headLines, looksLikeText } from "../text/text-file.js";
import { createJsonLinesParser } from "./jsonl-parser.js";

/** Recognises JSON lines: the first non-blank line is a JSON object (or the start of one, when cut by the head). */
export function detectJsonLines(head: Uint8Array): boolean {
  if (head.length === 0 || !looksLikeText(head)) return false;
  const full = head.length >= 4096;
  const lines = headLines(head, full);
  const first = lines.find((l) => l.trim().length > 0);
  if (first === undefined) {
    // One line longer than the head: judge by its start.
    return full && new TextDecoder().decode(head).trimStart().startsWith("{\"");
  }
  const t = first.trim();
  return t.startsWith("{") && t.endsWith("}");
}

/** The JSON lines format. */
export const jsonLinesFormat: TraceFormatReader = {
  format: "jsonl",
  detect: detectJsonLines,
  open: (path: string, options: TextReaderOptions) => openLineTrace(path, { format: "jsonl", createParser: createJsonLinesParser }, options),
};
