import type { MergedEvent } from "../merge/merger.js";

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

/**
 * A text format: one string per event, pushed to the sink in pieces of about
 * 1 MiB as each batch is written (strings are immutable, so nothing waits for
 * a flush).
 */
export abstract class TextLinesWriter implements MergeWriter {
  protected header!: MergeHeader;

  constructor(protected readonly sink: ChunkSink) {}

  begin(header: MergeHeader): void {
    this.header = header;
  }

  /** The text of one event (with its newline, and any lines that must precede it). */
  protected abstract line(m: MergedEvent): string;

  write(events: readonly MergedEvent[]): void {
    let s = "";
    for (const m of events) {
      s += this.line(m);
      if (s.length > 1 << 20) {
        this.sink.push(s);
        s = "";
      }
    }
    this.sink.push(s);
  }

  pending(): number {
    return 0;
  }

  flush(): void {}

  end(): void {}
}
