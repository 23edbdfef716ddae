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
/** Strings up to this long are tried as ASCII first. */
const SHORT_STRING = 64;

export class ProtoBuffer {
  private buf: Uint8Array;
  private pos = 0;
  /** The last value {@link varint64} encoded outside the safe range, and its bytes. */
  private lastBig: bigint | null = null;
  private lastBigBytes = new Uint8Array(0);

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

  /**
   * An unsigned integer below 2^53. Integer bit operations only: `%` and
   * division on doubles this large cost as much as the rest of a packet.
   */
  varint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    if (v <= 0xffff_ffff) {
      let x = v >>> 0;
      while (x >= 0x80) {
        b[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      b[p++] = x;
    } else {
      // Exact for v < 2^53: ToUint32 keeps the low 32 bits; the rest is an exact quotient.
      let lo = v >>> 0;
      const hi = (v - lo) / 0x1_0000_0000;
      for (let i = 0; i < 4; i++) {
        b[p++] = (lo & 0x7f) | 0x80;
        lo >>>= 7;
      }
      // 4 bits of lo remain; hi has at most 21 bits: together below 2^25.
      let x = (lo | (hi << 4)) >>> 0;
      while (x >= 0x80) {
        b[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      b[p++] = x;
    }
    this.pos = p;
  }

  /** A u64 (two's complement for negative values, as protobuf's int64 is). */
  varint64(v: bigint): void {
    // One conversion instead of two BigInt comparisons: Number(v) is exact below 2^53 and rounds to
    // at least 2^53 above it, so the range check on the double is exact.
    const n = Number(v);
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) return this.varint(n);
    // Values this large are mostly kernel addresses (an ip), which repeat from event to event.
    if (v === this.lastBig) return this.raw(this.lastBigBytes);
    const start = this.pos;
    this.bigVarint(v);
    this.lastBig = v;
    this.lastBigBytes = this.buf.slice(start, this.pos);
  }

  private bigVarint(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    let lo = Number(u & 0xffff_ffffn);
    let hi = Number(u >> 32n);
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    // 28 bits of lo in four groups, then lo's 4 high bits with hi's 32 bits, seven at a time.
    for (let i = 0; i < 4; i++) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // (lo: 4 bits) + hi·16 may reach 2^36: keep it in two parts.
    const first = (lo | ((hi & 0x7) << 4)) >>> 0; // 7 bits
    hi >>>= 3;
    if (hi === 0) {
      b[p++] = first;
    } else {
      b[p++] = first | 0x80;
      while (hi >= 0x80) {
        b[p++] = (hi & 0x7f) | 0x80;
        hi >>>= 7;
      }
      b[p++] = hi;
    }
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
    const b = this.buf;
    let p = start + LENGTH_BYTES;
    const n = s.length;
    let i = 0;
    // Short ASCII text (names, comms, markers) byte by byte: cheaper than a TextEncoder call.
    if (n <= SHORT_STRING) for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    if (i < n) p += encoder.encodeInto(i === 0 ? s : s.slice(i), b.subarray(p)).written;
    this.pos = p;
    this.patchLength(start, p - start - LENGTH_BYTES);
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

  /**
   * The bytes written so far, as a view of the buffer (no copy), valid until
   * the next write; call {@link reset} once it has been consumed.
   */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Starts over in the same buffer. */
  reset(): void {
    this.pos = 0;
  }

  /** Takes the bytes written so far (a copy) and starts over. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}
