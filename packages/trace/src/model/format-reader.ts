import type { ClockUnit, TraceFormat, TraceReader } from "./event.js";

/** What a caller may tell a reader that the file itself may not say. */
export interface ReaderOptions {
  /** The clock to assume when the file does not name one (text and JSON lines inputs). */
  readonly clock?: string;
  /** Whether that clock counts ticks or ns; derived from well-known clock names when omitted. */
  readonly clockUnit?: ClockUnit;
  /** JSON lines: the field holding the timestamp (default `ts`). */
  readonly tsField?: string;
  /** Events per batch handed out by `batches()` (default 4096). */
  readonly batchSize?: number;
}

/** One format: recognises its files by content and opens them. */
export interface TraceFormatReader {
  readonly format: TraceFormat;
  /** True when the first bytes of a file (up to 4 KiB; fewer for a short file) are this format. */
  detect(head: Uint8Array): boolean;
  /**
   * Opens a file: reads the headers (what {@link TraceReader.info} needs), not the events.
   * @throws ClocksourceError `INVALID_TRACE` naming the offset of the damage, `IO_ERROR`
   */
  open(path: string, options: ReaderOptions): Promise<TraceReader>;
}
