/**
 * `clocksource trace dump`: every event of a trace as JSON lines on stdout,
 * streamed in constant memory.
 */
import { EventLineEncoder, type TraceEvent, type TraceReader } from "@clocksource/trace";
import type { CliIo } from "../cli-io.js";

/** Output is handed to the stream in pieces of about this many characters. */
const CHUNK_CHARS = 1 << 16;

/**
 * Writes to a stream in large pieces and waits only when the stream says its
 * buffer is full: one `await` per full pipe, never one per event. A stream
 * that errors or closes while waited on ends the wait (a closed pipe is the
 * caller's to report, or the process's to end quietly on EPIPE).
 */
export class ChunkWriter {
  private pending = "";

  constructor(private readonly stream: NodeJS.WritableStream) {}

  /** Adds text; returns true when enough is pending that {@link flush} should run. */
  add(s: string): boolean {
    this.pending += s;
    return this.pending.length >= CHUNK_CHARS;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = "";
    if (this.stream.write(chunk)) return;
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
      for (let i = 0; i < batch.length; i++) full = out.add(enc.encode(batch[i] as TraceEvent)) || full;
      if (full) await out.flush();
    }
  } finally {
    await out.flush();
  }
  const w = reader.warnings;
  for (const line of w.slice(0, WARNINGS_SHOWN)) io.stderr.write(`clocksource: warning: ${line}\n`);
  if (w.length > WARNINGS_SHOWN) io.stderr.write(`clocksource: warning: … ${w.length - WARNINGS_SHOWN} more (clocksource trace info lists them)\n`);
  return 0;
}
