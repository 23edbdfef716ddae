/**
 * The perf.data file on disk: opened safely (regular files only, never a FIFO
 * or a device), read at positions for the header parts, and streamed in
 * chunks for the data section so memory stays the chunk size whatever the
 * file size.
 */
import { constants } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { ClocksourceError, describeErrno, describeFileKind } from "@clocksource/core";

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** An open, regular trace file. */
export interface TraceFile {
  readonly handle: FileHandle;
  readonly size: number;
  readonly path: string;
}

/**
 * Opens a trace file the user named. `stat` comes first so that a FIFO is
 * never waited on and a device never opened; `O_NONBLOCK` covers a swap
 * between the two; `fstat` checks what was opened.
 * @throws ClocksourceError `IO_ERROR`
 */
export async function openTraceFile(path: string): Promise<TraceFile> {
  let handle: FileHandle | undefined;
  try {
    const before = await stat(path);
    if (!before.isFile()) throw new ClocksourceError("IO_ERROR", `${path} is ${describeFileKind(before)}, not a regular file`);
    handle = await open(path, OPEN_FLAGS);
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) {
      throw new ClocksourceError("IO_ERROR", `${path} changed while it was being opened`);
    }
    return { handle, size: st.size, path };
  } catch (e) {
    await handle?.close().catch(() => undefined);
    if (e instanceof ClocksourceError) throw e;
    throw new ClocksourceError("IO_ERROR", `cannot read ${path}: ${describeErrno(e)}`, { cause: e });
  }
}

/** Reads `length` bytes at `position`; fewer when the file ends first. */
export async function readAt(file: TraceFile, position: number, length: number): Promise<Uint8Array> {
  const n = Math.max(0, Math.min(length, file.size - position));
  const buf = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const { bytesRead } = await file.handle.read(buf, done, n - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === n ? buf : buf.subarray(0, done);
}

/**
 * A window over a byte range of the file that slides forward: the caller reads
 * from `bytes`/`view` at `pos`, and asks `ensure(n)` when fewer than `n` bytes
 * are left in the window. Bytes before `pos` may be dropped at each refill.
 */
export class ChunkStream {
  bytes: Uint8Array;
  view: DataView;
  /** File offset of `bytes[0]`. */
  base: number;
  /** Current read index into `bytes`. */
  pos = 0;
  /** Valid bytes in `bytes`. */
  len = 0;
  private readonly buffer: Uint8Array;

  constructor(
    private readonly file: TraceFile,
    start: number,
    /** File offset where the stream ends (exclusive). */
    readonly end: number,
    chunkSize = 1 << 20,
  ) {
    // Room for one chunk plus the largest record (64 KiB) carried over from the previous one.
    this.buffer = new Uint8Array(chunkSize + 65536);
    this.bytes = this.buffer;
    this.view = new DataView(this.buffer.buffer);
    this.base = start;
  }

  /** File offset of the read position. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Bytes left in the window. */
  get available(): number {
    return this.len - this.pos;
  }

  /** Bytes left until the end of the stream (window and file). */
  get remaining(): number {
    return this.end - this.offset;
  }

  /**
   * Makes at least `n` bytes available at `pos` (n ≤ the chunk size).
   * Returns false when the stream ends first (what is there stays readable).
   */
  async ensure(n: number): Promise<boolean> {
    if (this.len - this.pos >= n) return true;
    const keep = this.len - this.pos;
    if (keep > 0 && this.pos > 0) this.buffer.copyWithin(0, this.pos, this.len);
    this.base += this.pos;
    this.pos = 0;
    this.len = Math.max(0, keep);
    const want = Math.min(this.buffer.length - this.len, this.end - (this.base + this.len));
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.file.handle.read(this.buffer, this.len + got, want - got, this.base + this.len + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.len += got;
    return this.len >= n;
  }

  /** Moves the read position forward by `n` bytes, past the window if need be (no read). */
  skip(n: number): void {
    if (this.pos + n <= this.len) {
      this.pos += n;
      return;
    }
    this.base += this.pos + n;
    this.pos = 0;
    this.len = 0;
  }

  /** Reads `n` bytes at the position (a copy), moving past them; fewer when the stream ends. */
  async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, Math.min(n, this.remaining)));
    let done = 0;
    while (done < out.length) {
      if (this.available === 0 && !(await this.ensure(1))) break;
      const k = Math.min(out.length - done, this.available);
      out.set(this.bytes.subarray(this.pos, this.pos + k), done);
      this.pos += k;
      done += k;
    }
    return done === out.length ? out : out.subarray(0, done);
  }
}
