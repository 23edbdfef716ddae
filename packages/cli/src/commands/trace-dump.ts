/**
 * `clocksource trace dump`: every event of a trace as JSON lines on stdout,
 * streamed in constant memory.
 */
import { EventLineEncoder, LineBytes, type TraceEvent, type TraceReader } from "@clocksource/trace";
import type { CliIo } from "../cli-io.js";

/**
 * Hands pieces of bytes to a stream and waits only when the stream says its
 * buffer is full: an `await` per full pipe, never one per event. A stream
 * that errors or closes while waited on ends the wait (a closed pipe is the
 * process's to end quietly on EPIPE).
 */
export class StreamPieces {
  private blocked = false;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  /** Writes a piece (the stream may keep it); after it, {@link full} says whether to {@link drain}. */
  readonly write = (piece: Buffer): void => {
    if (!this.stream.write(piece)) this.blocked = true;
  };

  /** Whether the stream said it was full. */
  get full(): boolean {
    return this.blocked;
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
  // Lines are encoded straight into pieces of bytes (no string per event); full pieces go to stdout.
  const stream = new StreamPieces(io.stdout);
  const out = new LineBytes(stream.write);
  try {
    for await (const batch of reader.batches()) {
      for (let i = 0; i < batch.length; i++) enc.encodeInto(batch[i] as TraceEvent, out);
      if (stream.full) await stream.drain();
    }
  } finally {
    out.flush();
    await stream.drain();
  }
  const w = reader.warnings;
  for (const line of w.slice(0, WARNINGS_SHOWN)) io.stderr.write(`clocksource: warning: ${line}\n`);
  if (w.length > WARNINGS_SHOWN) io.stderr.write(`clocksource: warning: … ${w.length - WARNINGS_SHOWN} more (clocksource trace info lists them)\n`);
  return 0;
}
