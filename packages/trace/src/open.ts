/**
 * Opening a trace whatever its format: recognised by content (the first
 * 4 KiB), never by the file's name; the caller may name the format instead.
 */
import { ClocksourceError } from "@clocksource/core";
import type { TraceEvent, TraceFormat, TraceReader } from "./model/event.js";
import type { ReaderOptions, TraceFormatReader } from "./model/format-reader.js";
import { TRACE_FORMATS } from "./readers/index.js";
import type { TextReaderOptions } from "./readers/text/line-trace-reader.js";
import { readHead } from "./readers/text/text-file.js";

/** Options of {@link openTrace}. */
export interface OpenTraceOptions extends ReaderOptions, Pick<TextReaderOptions, "reorderWindow"> {
  /** The file's format; detected from its content when omitted. */
  readonly format?: TraceFormat;
}

/** Bytes of the file each reader's `detect` sees. */
export const DETECT_BYTES = 4096;

/** The formats {@link openTrace} can read, by name. */
export function traceFormats(): readonly TraceFormat[] {
  return TRACE_FORMATS.map((f) => f.format);
}

/** The reader of a format by name. @throws ClocksourceError `INVALID_ARGUMENT` for a format not read here */
export function traceFormatReader(format: string): TraceFormatReader {
  const r = TRACE_FORMATS.find((f) => f.format === format);
  if (r === undefined) throw new ClocksourceError("INVALID_ARGUMENT", `unknown trace format ${JSON.stringify(format)} (formats: ${traceFormats().join(", ")})`);
  return r;
}

/**
 * The format of a file by its content, or null when no reader recognises it.
 * @throws ClocksourceError `IO_ERROR` when the file cannot be read or is not a regular file
 */
export async function detectTraceFormat(path: string): Promise<TraceFormat | null> {
  const head = await readHead(path, DETECT_BYTES);
  return TRACE_FORMATS.find((f) => f.detect(head))?.format ?? null;
}

/**
 * Opens a trace file (trace.dat, perf.data, ftrace text, `perf script` text,
 * JSON lines) for reading its events.
 * @throws ClocksourceError `IO_ERROR` (missing, unreadable, not a regular file),
 *   `INVALID_ARGUMENT` (an unknown `format` name), `INVALID_TRACE` (not recognised, or damaged headers)
 */
export async function openTrace(path: string, options: OpenTraceOptions = {}): Promise<TraceReader> {
  let reader: TraceFormatReader;
  if (options.format !== undefined) reader = traceFormatReader(options.format);
  else {
    const format = await detectTraceFormat(path);
    if (format === null) {
      throw new ClocksourceError("INVALID_TRACE", `${path}: not a trace in a format read here (${traceFormats().join(", ")}); name its format if it is one`);
    }
    reader = traceFormatReader(format);
  }
  return reader.open(path, options);
}

/** The events of a reader one at a time (from its batches), in order. */
export async function* eventsOf(reader: TraceReader): AsyncGenerator<TraceEvent> {
  for await (const batch of reader.batches()) yield* batch;
}
