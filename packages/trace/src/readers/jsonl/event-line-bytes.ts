/**
 * The JSON lines schema of `trace dump` (documented on {@link EventLineEncoder},
 * which gives one event's line as a string), written as UTF-8 bytes straight
 * into output chunks (see `writers/json-bytes.ts` for why) without building a
 * string per line.
 */
import type { TraceEvent } from "../../model/event.js";
import { bytesOf, JsonBytes, KeyBytes, writeEventMembers } from "../../writers/json-bytes.js";

/**
 * Takes a full chunk. Returns true when the stream is already done with it (it
 * was written through to a file descriptor), so the chunk can be filled again;
 * false keeps it with the stream and a new one is used.
 */
export type ChunkHandoff = (chunk: Uint8Array) => boolean;

const DEFAULT_CHUNK = 1 << 16;

const C_TS_END = bytesOf('",');

/** Encodes the events of one trace as JSON lines into chunks handed to a sink. */
export class EventLineBytes {
  private readonly out: JsonBytes;
  private readonly head: Uint8Array;
  private readonly tails = new Map<string, Uint8Array>();
  private readonly keys = new KeyBytes();

  /**
   * @param machine the machine name every line carries
   * @param clockOf the clock name of a buffer's timestamps (null when unknown)
   * @param sink where full chunks go
   * @param chunkBytes chunk size (at least 64 bytes; 64 KiB by default); a single value larger than a chunk gets a chunk of its own
   */
  constructor(
    machine: string,
    private readonly clockOf: (buffer: string) => string | null,
    private readonly sink: ChunkHandoff,
    private readonly chunkBytes = DEFAULT_CHUNK,
  ) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64) throw new RangeError(`chunk size must be an integer of at least 64 bytes, got ${chunkBytes}`);
    this.out = new JsonBytes(Buffer.allocUnsafe(chunkBytes), (w, need) => {
      this.flush();
      if (need > w.buf.length) w.buf = Buffer.allocUnsafe(need);
    });
    this.head = bytesOf(`{"machine":${JSON.stringify(machine)},"ts":"`);
  }

  /** Bytes written but not yet handed to the sink. */
  get pending(): number {
    return this.out.pos;
  }

  /** Appends the line for one event, with its newline. */
  write(e: TraceEvent): void {
    const out = this.out;
    out.copy(this.head);
    out.digits(e.ts);
    out.copy(C_TS_END);
    writeEventMembers(out, e, this.keys);
    out.copy(this.tail(e.buffer));
  }

  /** Hands what is pending to the sink. */
  flush(): void {
    const out = this.out;
    if (out.pos === 0) return;
    const chunk = out.buf.subarray(0, out.pos);
    out.pos = 0;
    if (!this.sink(chunk)) out.buf = Buffer.allocUnsafe(this.chunkBytes);
  }

  private tail(buffer: string): Uint8Array {
    let t = this.tails.get(buffer);
    if (t === undefined) {
      const clock = this.clockOf(buffer);
      t = bytesOf(`,"clock":${clock === null ? "null" : JSON.stringify(clock)}${buffer === "" ? "" : `,"buffer":${JSON.stringify(buffer)}`}}\n`);
      this.tails.set(buffer, t);
    }
    return t;
  }
}
