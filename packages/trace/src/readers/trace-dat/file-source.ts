import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { ClocksourceError, describeErrno, describeFileKind } from "@clocksource/core";
import { type ByteCursor, decodeText, invalidTrace } from "../../ftrace/byte-cursor.js";

/**
 * A trace file opened for positional reads. Opened non-blocking and checked
 * to be a regular file before any read, so a FIFO or a device named by
 * mistake is refused instead of blocking (trace.dat needs seeking anyway).
 */
export class FileSource {
  readonly size: number;
  private fd: number | null;

  constructor(readonly path: string) {
    let fd: number;
    try {
      const before = statSync(path);
      if (!before.isFile()) throw new ClocksourceError("IO_ERROR", `${path}: is ${describeFileKind(before)}, not a regular file (trace.dat is read by offset)`);
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (e) {
      if (e instanceof ClocksourceError) throw e;
      throw new ClocksourceError("IO_ERROR", `${path}: ${describeErrno(e)}`, { cause: e });
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new ClocksourceError("IO_ERROR", `${path}: is ${describeFileKind(st)}, not a regular file (trace.dat is read by offset)`);
      this.size = st.size;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  /** Reads up to `length` bytes at `position` into `into` (from `at`); returns the count read (short at the end of the file). */
  readInto(into: Uint8Array, at: number, length: number, position: number): number {
    if (this.fd === null) throw new ClocksourceError("IO_ERROR", `${this.path}: read after close`);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(this.fd, into, at + done, length - done, position + done);
      } catch (e) {
        throw new ClocksourceError("IO_ERROR", `${this.path}: offset 0x${(position + done).toString(16)}: ${describeErrno(e)}`, { cause: e });
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** Reads exactly `length` bytes at `position`, or throws naming the offset where the file ends. */
  read(position: number, length: number, what: string): Uint8Array {
    if (position + length > this.size) {
      throw invalidTrace(this.path, position, `truncated: ${what} needs ${length} bytes, the file ends at 0x${this.size.toString(16)}`);
    }
    const b = new Uint8Array(length);
    const n = this.readInto(b, 0, length, position);
    if (n < length) throw invalidTrace(this.path, position + n, `truncated: ${what} ends early`);
    return b;
  }

  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      closeSync(fd);
    }
  }
}

/** A sequential cursor over a {@link FileSource}, reading through a small window. */
export class FileCursor implements ByteCursor {
  private readonly window = new Uint8Array(64 * 1024);
  private readonly view = new DataView(this.window.buffer);
  private winStart = 0;
  private winLen = 0;
  private pos: number;

  constructor(
    private readonly src: FileSource,
    private readonly littleEndian: boolean,
    start: number,
  ) {
    this.pos = start;
  }

  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Ensures `n` (≤ window) bytes at the position are in the window; returns their index in it. */
  private fill(n: number, what: string): number {
    if (this.pos + n > this.src.size) {
      throw invalidTrace(this.src.path, this.pos, `truncated: ${what} needs ${n} bytes, the file ends at 0x${this.src.size.toString(16)}`);
    }
    if (this.pos < this.winStart || this.pos + n > this.winStart + this.winLen) {
      this.winStart = this.pos;
      this.winLen = this.src.readInto(this.window, 0, Math.min(this.window.length, this.src.size - this.pos), this.pos);
      if (this.winLen < n) throw invalidTrace(this.src.path, this.pos, `truncated: ${what} ends early`);
    }
    const i = this.pos - this.winStart;
    this.pos += n;
    return i;
  }

  u8(): number {
    return this.view.getUint8(this.fill(1, "a byte"));
  }
  u16(): number {
    return this.view.getUint16(this.fill(2, "a u16"), this.littleEndian);
  }
  u32(): number {
    return this.view.getUint32(this.fill(4, "a u32"), this.littleEndian);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.fill(8, "a u64"), this.littleEndian);
  }
  bytes(n: number): Uint8Array {
    if (n <= this.window.length) {
      const i = this.fill(n, "a block");
      return this.window.slice(i, i + n);
    }
    const b = this.src.read(this.pos, n, "a block");
    this.pos += n;
    return b;
  }
  skip(n: number): void {
    if (this.pos + n > this.src.size) {
      throw invalidTrace(this.src.path, this.pos, `truncated: a skipped block of ${n} bytes passes the end of the file at 0x${this.src.size.toString(16)}`);
    }
    this.pos += n;
  }
  cstring(max: number): string {
    const start = this.pos;
    const parts: number[] = [];
    for (;;) {
      if (parts.length > max) throw invalidTrace(this.src.path, start, `string longer than ${max} bytes`);
      const c = this.u8();
      if (c === 0) break;
      parts.push(c);
    }
    return decodeText(Uint8Array.from(parts));
  }
}
