/**
 * The reader shared by the line-based formats (ftrace text, `perf script`
 * text, JSON lines): each format supplies a line parser; this module streams
 * the file through it, puts events in order within a bounded window, batches
 * them and keeps the warnings.
 */
import { ClocksourceError, isClocksourceError } from "@clocksource/core";
import type { TraceEvent, TraceFormat, TraceInfo, TraceReader } from "../../model/event.js";
import type { ReaderOptions } from "../../model/format-reader.js";
import { DEFAULT_REORDER_WINDOW, ReorderWindow } from "./reorder-window.js";
import { headLines, readHead, readLines } from "./text-file.js";
import { WarningLog } from "./warning-log.js";

/** Options of the text readers, beyond {@link ReaderOptions}. */
export interface TextReaderOptions extends ReaderOptions {
  /**
   * Events held to put slightly out-of-order lines in order (default
   * {@link DEFAULT_REORDER_WINDOW}); an event later out of order than this is
   * an `INVALID_TRACE` error naming its line.
   */
  readonly reorderWindow?: number;
}

/** Where a line parser puts what it finds. */
export interface LineSink {
  event(e: TraceEvent): void;
  /** A non-fatal problem; the message names the line. */
  warn(message: string): void;
}

/** One format's parser of lines; state (header facts, pending markers) lives in it. */
export interface LineParser {
  /** Parses one line (1-based `lineNo`). Throws a `ClocksourceError` only when reading cannot go on. */
  line(text: string, lineNo: number): void;
  /** The input ended. */
  end(): void;
  /** What the lines so far say about the trace. `notes` are warnings about the whole file (once). */
  describe(): { info: Omit<TraceInfo, "format" | "warnings">; notes: readonly string[] };
}

/** A line-based format: how to parse its lines. */
export interface LineFormat {
  readonly format: TraceFormat;
  createParser(sink: LineSink, options: TextReaderOptions, path: string): LineParser;
}

const HEAD_BYTES = 64 * 1024;
const DEFAULT_BATCH = 4096;

/**
 * Opens a line-based trace: parses the first 64 KiB to learn what the file
 * says about itself (headers, the timestamp form, the clock), so that
 * {@link TraceReader.info} is known before any event is read.
 */
export async function openLineTrace(path: string, format: LineFormat, options: TextReaderOptions): Promise<TraceReader> {
  const head = await readHead(path, HEAD_BYTES);
  const scan = format.createParser({ event() {}, warn() {} }, options, path);
  try {
    for (const [i, l] of headLines(head, head.length === HEAD_BYTES).entries()) scan.line(l, i + 1);
  } catch (e) {
    // Damage in the head is reported when the events are read, after those before it.
    if (!isClocksourceError(e)) throw e;
  }
  return new LineTraceReader(path, format, options, scan.describe());
}

class LineTraceReader implements TraceReader {
  private readonly log = new WarningLog();
  private current: LineParser | null = null;
  private described: ReturnType<LineParser["describe"]>;
  private started = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly format: LineFormat,
    private readonly options: TextReaderOptions,
    head: ReturnType<LineParser["describe"]>,
  ) {
    this.described = head;
    for (const n of head.notes) this.log.add(n);
  }

  get info(): TraceInfo {
    const d = this.current ? this.current.describe() : this.described;
    return { format: this.format.format, ...d.info, warnings: this.log.list };
  }

  get warnings(): readonly string[] {
    return this.log.list;
  }

  async *batches(): AsyncGenerator<readonly TraceEvent[]> {
    if (this.started) throw new ClocksourceError("INVALID_ARGUMENT", `${this.path}: batches() can be iterated once`);
    this.started = true;
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ClocksourceError("INVALID_ARGUMENT", `batchSize must be a positive integer, got ${batchSize}`);
    const window = new ReorderWindow(this.options.reorderWindow ?? DEFAULT_REORDER_WINDOW, this.path);
    let ready: TraceEvent[] = [];
    let lineNo = 0;
    const log = this.log;
    const sink: LineSink = {
      event(e) {
        const out = window.push(e, lineNo);
        if (out) ready = ready.length === 0 ? out : ready.concat(out);
      },
      warn(message) {
        log.add(message);
      },
    };
    const parser = this.format.createParser(sink, this.options, this.path);
    this.current = parser;
    let failure: unknown = null;
    try {
      for await (const chunk of readLines(this.path)) {
        if (this.closed) return;
        const { lines, firstLine } = chunk;
        try {
          for (let i = 0; i < lines.length; i++) {
            lineNo = firstLine + i;
            parser.line(lines[i] as string, lineNo);
          }
        } catch (e) {
          failure = e;
          break;
        }
        if (ready.length >= batchSize) {
          let i = 0;
          for (; i + batchSize <= ready.length; i += batchSize) yield ready.slice(i, i + batchSize);
          ready = ready.slice(i);
        }
      }
      if (failure === null) {
        parser.end();
        const seen = new Set(this.log.list);
        for (const n of parser.describe().notes) if (!seen.has(n)) this.log.add(n);
      }
    } catch (e) {
      failure = e;
    }
    ready = ready.length === 0 ? window.drain() : ready.concat(window.drain());
    log.finish();
    for (let i = 0; i < ready.length; i += batchSize) yield ready.slice(i, i + batchSize);
    if (failure !== null) throw failure;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
