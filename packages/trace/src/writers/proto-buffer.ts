/**
 * A protobuf encoder for the one message stream that must be fast: the merged
 * trace's packets, written at millions per second.
 *
 * It writes straight into one growing byte buffer. A nested message's length
 * is written after its body as a 4-byte varint with redundant continuation
 * bits — valid protobuf, and what Perfetto's own protozero writer does — so a
 * message is written once, never copied to prefix its length. Strings are
 * UTF-8 encoded in place. Decoding (tests) uses @bufbuild/protobuf's reader.
 */

const LENGTH_BYTES = 4;
const MAX_NESTED = (1 << 28) - 1;

export const WIRE = { varint: 0, fixed64: 1, len: 2, fixed32: 5 } as const;

const encoder = new TextEncoder();

export class ProtoBuffer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 1 << 20) {
    this.buf = new Uint8Array(initial);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** An unsigned integer below 2^53. */
  varint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[p++] = v;
    this.pos = p;
  }

  /** A u64 (two's complement for negative values, as protobuf's int64 is). */
  varint64(v: bigint): void {
    if (v >= 0n && v <= 0x1f_ffff_ffff_ffffn) return this.varint(Number(v));
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    // The low 35 bits as 5 groups, then the rest (< 2^29) as a number.
    for (let i = 0; i < 5 && u >= 0x80n; i++) {
      b[p++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    let rest = Number(u);
    while (rest >= 0x80) {
      b[p++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    b[p++] = rest;
    this.pos = p;
  }

  /** A field key. */
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** Pre-encoded bytes (a constant key or message). */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A length-delimited string field. */
  string(field: number, s: string): void {
    this.tag(field, WIRE.len);
    // Room for the worst case (3 bytes per UTF-16 unit), encoded in place after a 4-byte length.
    this.ensure(LENGTH_BYTES + s.length * 3);
    const start = this.pos;
    const { written } = encoder.encodeInto(s, this.buf.subarray(start + LENGTH_BYTES));
    this.pos = start + LENGTH_BYTES + written;
    this.patchLength(start, written);
  }

  /** Opens a nested message field; returns the mark to pass to {@link end}. */
  begin(field: number): number {
    this.tag(field, WIRE.len);
    this.ensure(LENGTH_BYTES);
    const mark = this.pos;
    this.pos += LENGTH_BYTES;
    return mark;
  }

  /** Closes the nested message opened at `mark`. */
  end(mark: number): void {
    this.patchLength(mark, this.pos - mark - LENGTH_BYTES);
  }

  private patchLength(at: number, n: number): void {
    if (n > MAX_NESTED) throw new RangeError(`a protobuf message of ${n} bytes is beyond the 4-byte length`);
    const b = this.buf;
    b[at] = (n & 0x7f) | 0x80;
    b[at + 1] = ((n >>> 7) & 0x7f) | 0x80;
    b[at + 2] = ((n >>> 14) & 0x7f) | 0x80;
    b[at + 3] = (n >>> 21) & 0x7f;
  }

  /** Takes the bytes written so far (a copy) and starts over. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}
