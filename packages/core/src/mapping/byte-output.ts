/**
 * Output in large pieces: bytes collect in one buffer and go to the stream
 * when it holds {@link OUTPUT_PIECE} bytes or the caller flushes; the caller
 * waits only when the stream says it is full (backpressure), never per value.
 */
import { ClocksourceError } from "../errors.js";

/** Bytes collected before they are handed to the stream. */
export const OUTPUT_PIECE = 256 * 1024;
/** Spent pieces kept for reuse: more than one input block produces between two turns, so none is allocated in a steady run. */
const FREE_PIECES = 8;

/** What the output goes to: a Node writable stream (process.stdout, a file, a socket). */
export type ByteSink = NodeJS.WritableStream;

export class ByteOutput {
  /** Pieces the stream has finished with (its write callback ran), ready to be filled again. */
  private readonly free: Buffer[] = [];
  private buf: Buffer = Buffer.allocUnsafeSlow(OUTPUT_PIECE);
  private len = 0;
  /** True after a write the stream refused to take more after (wait for "drain"). */
  private full = false;

  /**
   * @param reuse reuse a piece once the stream's write callback has run — only
   *   for a stream that is done with a chunk by then (a file, pipe or socket
   *   stream; not a Transform, which may still hold it)
   */
  constructor(
    private readonly sink: ByteSink,
    private readonly reuse = false,
  ) {}

  /** Appends bytes (copied). */
  append(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; ) {
      if (this.len === this.buf.length) this.flush();
      const n = Math.min(bytes.length - off, this.buf.length - this.len);
      this.buf.set(n === bytes.length ? bytes : bytes.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
    }
  }

  /** Appends an ASCII string (digits, a line feed). */
  appendAscii(s: string): void {
    if (this.len + s.length > this.buf.length) {
      this.flush();
      if (s.length > this.buf.length) return this.append(Buffer.from(s, "latin1"));
    }
    this.len += this.buf.write(s, this.len, "latin1");
  }

  /** Appends one byte. */
  appendByte(b: number): void {
    if (this.len === this.buf.length) this.flush();
    this.buf[this.len++] = b;
  }

  /**
   * Hands what is collected to the stream. A reused piece goes back to the
   * free list when the stream's write callback says it is done with it, so a
   * steady conversion cycles through a few pieces instead of leaving the
   * collector megabytes of spent buffers; otherwise the stream gets a copy of
   * exactly the collected size.
   */
  flush(): void {
    if (this.len === 0) return;
    const len = this.len;
    this.len = 0;
    let ok: boolean;
    if (this.reuse) {
      const piece = this.buf;
      this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(OUTPUT_PIECE);
      ok = this.sink.write(piece.subarray(0, len), () => {
        if (this.free.length < FREE_PIECES) this.free.push(piece);
      });
    } else {
      const copy = Buffer.allocUnsafeSlow(len);
      this.buf.copy(copy, 0, 0, len);
      ok = this.sink.write(copy);
    }
    if (!ok) this.full = true;
  }

  /**
   * Flushes, then waits until the stream has room again if it said it was
   * full — else only for the callbacks already queued (a synchronous stream
   * calls back on the next tick), so that its pieces are free again before
   * the next is needed.
   */
  async settle(): Promise<void> {
    this.flush();
    if (!this.full) {
      if (this.reuse) await new Promise<void>((resolve) => process.nextTick(resolve));
      return;
    }
    this.full = false;
    await waitForDrain(this.sink);
  }
}

/** Resolves on "drain"; rejects when the stream fails or closes first (so a dead reader never leaves us waiting). */
function waitForDrain(sink: ByteSink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      sink.removeListener("drain", onDrain);
      sink.removeListener("error", onError);
      sink.removeListener("close", onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (e: unknown) => {
      cleanup();
      reject(new ClocksourceError("IO_ERROR", `cannot write output: ${(e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e)}`, { cause: e }));
    };
    const onClose = () => {
      cleanup();
      reject(new ClocksourceError("IO_ERROR", "cannot write output: the stream was closed"));
    };
    sink.once("drain", onDrain);
    sink.once("error", onError);
    sink.once("close", onClose);
  });
}
