/**
 * Output in large pieces: bytes collect in one buffer and go to the stream
 * when it holds {@link OUTPUT_PIECE} bytes or the caller flushes; the caller
 * waits only when the stream says it is full (backpressure), never per value.
 * A regular file's descriptor ({@link FileSink}) is written synchronously instead.
 */
import { ClocksourceError } from "../errors.js";
import { writeAllSync } from "../io/write-all.js";

/** Bytes collected before they are handed to the stream. */
export const OUTPUT_PIECE = 256 * 1024;
/** Spent pieces kept for reuse: more than one input block produces between two turns, so none is allocated in a steady run. */
const FREE_PIECES = 8;

/**
 * A regular file's descriptor, written with `writeSync` piece by piece. A disk
 * write waits on no one (as stdin from a regular file is read synchronously),
 * and going straight to the descriptor spares each piece a stream's
 * bookkeeping, its write callback and a turn of the event loop; the piece is
 * free again as soon as the call returns. Only for a regular file: a pipe,
 * socket or terminal can be full, and is written through its stream.
 */
export interface FileSink {
  readonly regularFileFd: number;
}

/** What the output goes to: a Node writable stream (process.stdout, a file, a socket), or a regular file's descriptor. */
export type ByteSink = NodeJS.WritableStream | FileSink;

function isFileSink(sink: ByteSink): sink is FileSink {
  return typeof (sink as Partial<FileSink>).regularFileFd === "number";
}

function cannotWrite(e: unknown): ClocksourceError {
  return new ClocksourceError("IO_ERROR", `cannot write output: ${(e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e)}`, { cause: e });
}

export class ByteOutput {
  /** Pieces the stream has finished with (its write callback ran), ready to be filled again. */
  private readonly free: Buffer[] = [];
  private buf: Buffer = Buffer.allocUnsafeSlow(OUTPUT_PIECE);
  private len = 0;
  /** True after a write the stream refused to take more after (wait for "drain"). */
  private full = false;
  /** The descriptor of a {@link FileSink}, or -1 for a stream. */
  private readonly fd: number;

  /**
   * @param reuse reuse a piece once the stream's write callback has run — only
   *   for a stream that is done with a chunk by then (a file, pipe or socket
   *   stream; not a Transform, which may still hold it)
   */
  constructor(
    private readonly sink: ByteSink,
    private readonly reuse = false,
  ) {
    this.fd = isFileSink(sink) ? sink.regularFileFd : -1;
  }

  /** Appends bytes (copied; to a file, half a piece or more is written as it is). */
  append(bytes: Uint8Array): void {
    if (this.fd >= 0 && bytes.length >= OUTPUT_PIECE / 2) {
      // A block of formatted lines: copying it would cost more than the write call it saves. Written
      // synchronously, so the caller may reuse its memory (the kernels' output region) once this returns.
      this.flush();
      this.writeFile(bytes, bytes.length);
      return;
    }
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
    if (this.fd >= 0) return this.writeFile(this.buf, len);
    const sink = this.sink as NodeJS.WritableStream;
    let ok: boolean;
    if (this.reuse) {
      const piece = this.buf;
      this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(OUTPUT_PIECE);
      ok = sink.write(piece.subarray(0, len), () => {
        if (this.free.length < FREE_PIECES) this.free.push(piece);
      });
    } else {
      const copy = Buffer.allocUnsafeSlow(len);
      this.buf.copy(copy, 0, 0, len);
      ok = sink.write(copy);
    }
    if (!ok) this.full = true;
  }

  /** Writes `bytes[0, len)` to the file sink's descriptor. */
  private writeFile(bytes: Uint8Array, len: number): void {
    try {
      writeAllSync(this.fd, bytes, len);
    } catch (e) {
      throw cannotWrite(e);
    }
  }

  /**
   * Flushes, then waits until the stream has room again if it said it was
   * full — else only for the callbacks already queued (a synchronous stream
   * calls back on the next tick), so that its pieces are free again before
   * the next is needed.
   */
  async settle(): Promise<void> {
    this.flush();
    if (this.fd >= 0) return;
    if (!this.full) {
      if (this.reuse) await new Promise<void>((resolve) => process.nextTick(resolve));
      return;
    }
    this.full = false;
    await waitForDrain(this.sink as NodeJS.WritableStream);
  }
}

/** Resolves on "drain"; rejects when the stream fails or closes first (so a dead reader never leaves us waiting). */
function waitForDrain(sink: NodeJS.WritableStream): Promise<void> {
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
      reject(cannotWrite(e));
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
