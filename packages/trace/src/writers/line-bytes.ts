/**
 * Text written straight into pieces of memory as bytes. A line of JSON per
 * event, built as a string and then encoded, cost `trace dump` more than
 * reading the events: a string (and its garbage) per event, and a UTF-8
 * encoding pass over it. Here the constant parts are byte arrays made once,
 * integers are written digit by digit, and short ASCII strings byte by byte;
 * only other text goes through the UTF-8 encoder.
 */

/** Bytes of the largest piece handed on; a single longer value goes on as a piece of its own. */
export const LINE_PIECE_BYTES = 1 << 16;

/** Small integers' digits, made once: most pids, tids, CPUs and field values are below this. */
const SMALL = 10_000;
const SMALL_DIGITS: Uint8Array[] = Array.from({ length: SMALL }, (_, i) => Uint8Array.from(String(i), (c) => c.charCodeAt(0)));

/** The ASCII bytes of a string known to be ASCII (the constant parts of a line). */
export function asciiBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * A byte writer that hands each full piece to `emit` and starts a new one
 * (the consumer may keep the piece: it is never written again).
 */
export class LineBytes {
  private buf: Buffer;
  private pos = 0;

  constructor(private readonly emit: (piece: Buffer) => void) {
    this.buf = Buffer.allocUnsafe(LINE_PIECE_BYTES);
  }

  /** Makes room for `n` bytes (`n` ≤ {@link LINE_PIECE_BYTES}). */
  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }

  /** Hands on what is written. */
  flush(): void {
    if (this.pos === 0) return;
    const piece = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(LINE_PIECE_BYTES);
    this.pos = 0;
    this.emit(piece);
  }

  /** Appends bytes. */
  bytes(b: Uint8Array): void {
    // The common case, small enough for V8 to inline into the encoder: a short piece that fits.
    const n = b.length;
    const p = this.pos;
    if (n <= 24 && p + n <= LINE_PIECE_BYTES) {
      const buf = this.buf;
      for (let i = 0; i < n; i++) buf[p + i] = b[i] as number;
      this.pos = p + n;
    } else {
      this.bytesSlow(b);
    }
  }

  private bytesSlow(b: Uint8Array): void {
    const n = b.length;
    if (n > LINE_PIECE_BYTES) {
      this.flush();
      this.emit(Buffer.from(b));
      return;
    }
    this.room(n);
    this.buf.set(b, this.pos);
    this.pos += n;
  }

  /** Appends an integer (a safe integer: a JSON number as `String(n)` writes it). */
  integer(n: number): void {
    if (n >= 0 && n < SMALL) return this.bytes(SMALL_DIGITS[n] as Uint8Array);
    this.room(17);
    if (n < 0) {
      this.buf[this.pos++] = 0x2d;
      n = -n;
    }
    this.digits(n);
  }

  /** Appends a bigint (a u64 timestamp, a 64-bit field of either sign) in decimal. */
  bigint(v: bigint): void {
    // Number() rounds a value of magnitude 2^53 or more to at least 2^53, so this test is exact.
    const x = Number(v);
    if (x > -9007199254740992 && x < 9007199254740992) this.integer(x);
    else this.latin1(v.toString());
  }

  /** The digits of a non-negative safe integer, with room already made: in int32 halves of 8 digits. */
  private digits(n: number): void {
    if (n < 1e8) return this.digits8(n | 0, false);
    const hi = Math.floor(n / 1e8);
    this.digits8(hi, false);
    this.digits8(n - hi * 1e8, true);
  }

  /** Digits of n < 10^8; `pad`: exactly 8, with leading zeros. */
  private digits8(n: number, pad: boolean): void {
    let len = 8;
    if (!pad) {
      len = 1;
      for (let t = 10; t <= n && len < 8; t *= 10) len++;
    }
    const buf = this.buf;
    let q = this.pos + len - 1;
    for (let i = 0; i < len; i++) {
      const next = (n / 10) | 0;
      buf[q--] = 0x30 + n - next * 10;
      n = next;
    }
    this.pos += len;
  }

  /** Appends a string that holds only code units below 0x100, one byte each. */
  latin1(s: string): void {
    const n = s.length;
    if (n > LINE_PIECE_BYTES) {
      this.flush();
      this.emit(Buffer.from(s, "latin1"));
      return;
    }
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    if (n <= 32) for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    else p += buf.write(s, p, "latin1");
    this.pos = p;
  }

  /** Appends a string as UTF-8. */
  utf8(s: string): void {
    if (s.length * 3 > LINE_PIECE_BYTES) {
      this.flush();
      this.emit(Buffer.from(s, "utf8"));
      return;
    }
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }
}
