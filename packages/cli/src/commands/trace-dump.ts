/**
 * `clocksource trace dump`: every event of a trace as JSON lines on stdout,
 * streamed in constant memory.
 */
import { EventLineBytes, type ChunkHandoff, type TraceEvent, type TraceReader } from "@clocksource/trace";
import type { CliIo } from "../cli-io.js";
import { writesToDescriptor } from "../regular-file-fd.js";

/**
 * Hands chunks to a stream and waits only when the stream says its buffer is
 * full: an `await` per full pipe, never one per event. A stream that errors or
 * closes while waited on ends the wait (a closed pipe is the process's to end
 * quietly on EPIPE).
 */
export class StreamChunks {
  private blocked = false;
  /** Whether a chunk is free again once written and nothing is left queued (see {@link writesToDescriptor}). */
  private readonly writesThrough: boolean;

  constructor(private readonly stream: NodeJS.WritableStream) {
    this.writesThrough = writesToDescriptor(stream);
  }

  /** The sink for {@link EventLineBytes}: writes a chunk; true when the chunk may be reused. */
  readonly sink: ChunkHandoff = (chunk) => {
    if (!this.stream.write(chunk)) this.blocked = true;
    return this.writesThrough && (this.stream as NodeJS.WritableStream & { writableLength?: number }).writableLength === 0;
  };

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
  const out = new StreamChunks(io.stdout);
  const enc = new EventLineBytes(machine, clockOf, out.sink);
  try {
    for await (const batch of reader.batches()) {
      for (let i = 0; i < batch.length; i++) enc.write(batch[i] as TraceEvent);
      await out.drain();
    }
  } finally {
    enc.flush();
    await out.drain();
  }
  const w = reader.warnings;
  for (const line of w.slice(0, WARNINGS_SHOWN)) io.stderr.write(`clocksource: warning: ${line}\n`);
  if (w.length > WARNINGS_SHOWN) io.stderr.write(`clocksource: warning: … ${w.length - WARNINGS_SHOWN} more (clocksource trace info lists them)\n`);
  return 0;
}
