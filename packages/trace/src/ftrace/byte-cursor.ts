import { ClocksourceError } from "@clocksource/core";

/**
 * Sequential reads of numbers and strings in a given byte order, over memory
 * or over a file. The tracing-data walker is written once against this, so
 * the same code reads perf's in-memory HEADER_TRACING_DATA and a trace.dat v6
 * file whose kallsyms may be megabytes (skipped, never loaded).
 */
export interface ByteCursor {
  /** Absolute position (in the file, or in the buffer). */
  readonly position: number;
  /** Bytes left, or null when unknown. */
  readonly remaining: number;
  u8(): number;
  u16(): number;
  u32(): number;
  u64(): bigint;
  /** `n` bytes; the caller decides how large `n` may be. */
  bytes(n: number): Uint8Array;
  skip(n: number): void;
  /** A NUL-terminated string of at most `max` bytes (the NUL is consumed). */
  cstring(max: number): string;
}

/** Formats the offset of a problem the way every message here does: `offset 0x1f0`. */
export function hexOffset(offset: number): string {
  return `offset 0x${offset.toString(16)}`;
}

/** The error every damaged-file path throws: `<where>: offset 0x…: what`. */
export function invalidTrace(where: string, offset: number, what: string): ClocksourceError {
  return new ClocksourceError("INVALID_TRACE", `${where}: ${hexOffset(offset)}: ${what}`);
}

const latin1 = new TextDecoder("latin1");

// Node's Buffer decodes a range without copying it first; the view of the last array is kept
// because a reader decodes many strings from one page in a row.
let lastArray: Uint8Array | null = null;
let lastBuffer: Buffer = Buffer.alloc(0);

/** Decodes bytes `[start, end)` as UTF-8 (invalid sequences become U+FFFD). */
export function decodeText(b: Uint8Array, start = 0, end = b.length): string {
  if (end <= start) return "";
  if (b !== lastArray) {
    lastArray = b;
    lastBuffer = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  return lastBuffer.toString("utf8", start, end);
}

/** Byte-exact text for format files and other metadata (never fails). */
export function decodeLatin1(b: Uint8Array): string {
  return latin1.decode(b);
}

/** A cursor over bytes in memory. */
export class BufferCursor implements ByteCursor {
  private readonly view: DataView;
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    private readonly littleEndian: boolean,
    private readonly where: string,
    /** Added to positions in error messages (the buffer's offset in its file). */
    private readonly base = 0,
    start = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get position(): number {
    return this.base + this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): number {
    if (n > this.buf.length - this.pos) {
      throw invalidTrace(this.where, this.base + this.pos, `truncated: ${what} needs ${n} bytes, ${this.buf.length - this.pos} left`);
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }

  u8(): number {
    return this.view.getUint8(this.need(1, "a byte"));
  }
  u16(): number {
    return this.view.getUint16(this.need(2, "a u16"), this.littleEndian);
  }
  u32(): number {
    return this.view.getUint32(this.need(4, "a u32"), this.littleEndian);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8, "a u64"), this.littleEndian);
  }
  bytes(n: number): Uint8Array {
    const p = this.need(n, "a block");
    return this.buf.subarray(p, p + n);
  }
  skip(n: number): void {
    this.need(n, "a skipped block");
  }
  cstring(max: number): string {
    const end = Math.min(this.buf.length, this.pos + max + 1);
    for (let i = this.pos; i < end; i++) {
      if (this.buf[i] === 0) {
        const s = decodeText(this.buf, this.pos, i);
        this.pos = i + 1;
        return s;
      }
    }
    throw invalidTrace(this.where, this.base + this.pos, end === this.buf.length ? "truncated: string without its NUL" : `string longer than ${max} bytes`);
  }
}

/** Converts a u64 size or offset to a number, refusing what no file here can hold. */
export function safeNumber(v: bigint, where: string, offset: number, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidTrace(where, offset, `${what} ${v} is out of range`);
  return Number(v);
}
