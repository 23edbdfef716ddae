/**
 * `clocksource trace dump`: every event of a trace as JSON lines on stdout,
 * streamed in constant memory.
 */
import { EventLineEncoder, type TraceEvent, type TraceReader } from "@clocksource/trace";
import type { CliIo } from "../cli-io.js";

/** Output is handed to the stream in pieces of this many bytes. */
const CHUNK_BYTES = 1 << 16;

/**
 * Writes to a stream in pieces of 64 KiB and waits only when the stream says
 * its buffer is full: an `await` per full pipe, never one per event. Text is
 * encoded into a byte buffer line by line: handing the stream long strings
 * built with `+=` costs more, because converting a rope to bytes is slow. A
 * stream that errors or closes while waited on ends the wait (a closed pipe
 * is the process's to end quietly on EPIPE).
 */
export class ChunkWriter {
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private blocked = false;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  /** Adds text; returns true when the stream is full and the caller should {@link drain}. */
  add(s: string): boolean {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (this.used + s.length * 3 > CHUNK_BYTES) {
      this.writePending();
      if (s.length * 3 > CHUNK_BYTES) {
        if (!this.stream.write(s)) this.blocked = true;
        return this.blocked;
      }
    }
    this.used += this.buf.write(s, this.used);
    return this.blocked;
  }

  private writePending(): void {
    if (this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    // The stream may keep the chunk until it is written: never reuse it.
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
    if (!this.stream.write(chunk)) this.blocked = true;
  }

  /** Waits until the stream takes more, if it said it was full. */
  async drain(): Promise<void> {
    if (!this.blocked) return;
    await new Promise<void>((resolve, reject) => {
      const s = this.stream;
      const done = () => {
        s.off("drain", done);
        s.off("close", done);
        s.off("error", fail);
        resolve();
      };
      const fail = (e: Error) => {
        s.off("drain", done);
        s.off("close", done);
        reject(e);
      };
      s.once("drain", done);
      s.once("close", done);
      s.once("error", fail);
    });
    this.blocked = false;
  }

  /** Writes what is pending and waits for the stream to take it. */
  async flush(): Promise<void> {
    this.writePending();
    await this.drain();
  }
}

/** How many warnings `dump` repeats on stderr (all are in `trace info`). */
const WARNINGS_SHOWN = 20;

/**
 * Streams the reader's events to stdout; what was read before an error is
 * written before the error is thrown. Warnings go to stderr at the end.
 */
export async function dumpTrace(reader: TraceReader, machine: string, io: CliIo): Promise<number> {
  // Asked once per buffer, when its first event is written: text formats learn their buffers while reading.
  const clockOf = (buffer: string) => {
    const info = reader.info;
    return (info.buffers.find((b) => b.name === buffer)?.clock ?? info.clock).name;
  };
  const enc = new EventLineEncoder(machine, clockOf);
  const out = new ChunkWriter(io.stdout);
  try {
    for await (const batch of reader.batches()) {
      let full = false;
      for (let i = 0; i < batch.length; i++) full = out.add(enc.encode(batch[i] as TraceEvent));
      if (full) await out.drain();
    }
  } finally {
    await out.flush();
  }
  const w = reader.warnings;
  for (const line of w.slice(0, WARNINGS_SHOWN)) io.stderr.write(`clocksource: warning: ${line}\n`);
  if (w.length > WARNINGS_SHOWN) io.stderr.write(`clocksource: warning: … ${w.length - WARNINGS_SHOWN} more (clocksource trace info lists them)\n`);
  return 0;
}
