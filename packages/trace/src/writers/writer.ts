import type { MergedEvent } from "../merge/merger.js";
import { JsonBytes, type MakeRoom } from "./json-bytes.js";

/** A machine of the merged timeline, as writers show it. */
export interface MergeMachine {
  readonly index: number;
  /** Its name (`host`, `vm1`). */
  readonly name: string;
}

/** What every writer is told before the first event. */
export interface MergeHeader {
  readonly machines: readonly MergeMachine[];
  /** The target clock domain the merged timestamps are in (`host.tsc`). */
  readonly target: string;
  /**
   * Turns a target timestamp into nanoseconds, for formats that need ns
   * (Perfetto, Chrome JSON); null when the target already counts ns.
   */
  readonly toNanoseconds: ((ts: bigint) => bigint) | null;
}

/**
 * A format for the merged timeline. Writers append bytes to a {@link ChunkSink}
 * when asked to {@link flush} (and at {@link end}); the caller drains the sink
 * then, so a writer never waits on I/O. A chunk a writer pushed may be a view
 * of the writer's own buffer: it stays valid only until the writer's next
 * `write`, `flush` or `end`, so the caller writes it out — completely — first.
 * (Reusing one buffer matters: fresh memory costs page faults at every batch.)
 */
export interface MergeWriter {
  begin(header: MergeHeader): void;
  write(events: readonly MergedEvent[]): void;
  /** Bytes written but not yet pushed to the sink. */
  pending(): number;
  /** Pushes everything written so far to the sink. */
  flush(): void;
  end(): void;
}

/** Collects output chunks between drains. */
export class ChunkSink {
  private chunks: (Uint8Array | string)[] = [];
  private size = 0;

  push(chunk: Uint8Array | string): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Approximate bytes waiting (string lengths count as bytes). */
  get pending(): number {
    return this.size;
  }

  /** Takes everything collected so far. */
  take(): (Uint8Array | string)[] {
    const c = this.chunks;
    this.chunks = [];
    this.size = 0;
    return c;
  }
}

/** Room a text writer starts with; it grows when a batch writes more before a flush. */
const TEXT_BUFFER = 1 << 20;

/** Doubles a writer's buffer until `need` more bytes fit: a writer keeps a batch whole until it is flushed. */
const grow: MakeRoom = (w, need) => {
  let size = w.buf.length * 2;
  while (size < w.pos + need) size *= 2;
  const next = Buffer.allocUnsafe(size);
  w.buf.copy(next, 0, 0, w.pos);
  w.buf = next;
};

/**
 * A format written as bytes into the writer's own buffer (`out`; see
 * `json-bytes.ts`) and pushed to the sink as a view of that buffer on
 * {@link flush}. Text formats build on it: joining lines into long strings
 * instead left the collector millions of rope pieces to trace and the stream a
 * rope to flatten — several times slower on a large merge.
 */
export abstract class BufferedWriter implements MergeWriter {
  protected header!: MergeHeader;
  protected readonly out = new JsonBytes(Buffer.allocUnsafe(TEXT_BUFFER), grow);
  /** The buffer was handed to the sink: start over before writing more. */
  private handedOut = false;

  constructor(protected readonly sink: ChunkSink) {}

  begin(header: MergeHeader): void {
    this.header = header;
  }

  abstract write(events: readonly MergedEvent[]): void;

  /** Appends text to what the next {@link flush} pushes. */
  protected append(s: string): void {
    this.reclaim();
    this.out.text(s);
  }

  /** Starts over in the buffer once the sink's view of it has been written out (the caller does that before writing more). */
  protected reclaim(): void {
    if (this.handedOut) {
      this.out.pos = 0;
      this.handedOut = false;
    }
  }

  pending(): number {
    return this.handedOut ? 0 : this.out.pos;
  }

  flush(): void {
    this.reclaim();
    if (this.out.pos === 0) return;
    this.sink.push(this.out.buf.subarray(0, this.out.pos));
    this.handedOut = true;
  }

  end(): void {
    this.flush();
  }
}

/** A text format given as one string per event. */
export abstract class TextLinesWriter extends BufferedWriter {
  /** The text of one event (with its newline, and any lines that must precede it). */
  protected abstract line(m: MergedEvent): string;

  write(events: readonly MergedEvent[]): void {
    this.reclaim();
    for (const m of events) this.out.text(this.line(m));
  }
}
