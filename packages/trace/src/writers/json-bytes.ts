/**
 * JSON text written as UTF-8 bytes straight into a buffer: the pieces the
 * JSON lines writers (`trace dump`, `merge --format jsonl`) are made of.
 *
 * Why bytes: a line is some thirty pieces. Joined as a string they become
 * thirty short-lived string objects, then a flat copy, then UTF-8 — for a
 * trace of millions of events the collector and the copies cost more than the
 * reading. Here constant pieces are encoded once and copied, numbers are
 * written digit by digit, short strings are escaped and encoded in place, and
 * only long strings go through the engine. The output is byte for byte what
 * `JSON.stringify` and UTF-8 encoding would give (property-tested through the
 * writers).
 */
import type { EventFields, FieldValue, TraceEvent } from "../model/event.js";
import { valueJson } from "./field-text.js";

/** Strings up to this many UTF-16 units are escaped and encoded here. */
const SHORT_STRING = 256;
/** The escape letter of `\b \t \n \f \r` by control code; 0 for the controls written `\u00xx`. */
const SHORT_ESCAPES = new Uint8Array(32);
SHORT_ESCAPES[8] = 98;
SHORT_ESCAPES[9] = 116;
SHORT_ESCAPES[10] = 110;
SHORT_ESCAPES[12] = 102;
SHORT_ESCAPES[13] = 114;
const HEX_DIGITS = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);
/** Room a number takes at most: `-9007199254740991` in quotes. */
const NUMBER_ROOM = 32;
/** Characters that force a string through `JSON.stringify` (quote, backslash, controls, lone surrogate halves). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const MAX_SAFE = 9007199254740991n;

/** "00".."99" as ASCII byte pairs. */
const PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  PAIRS[2 * i] = 48 + Math.floor(i / 10);
  PAIRS[2 * i + 1] = 48 + (i % 10);
}

/** 10^0 .. 10^15, exact doubles. */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** Decimal digits of a safe non-negative integer. */
function digitCount(v: number): number {
  let n = 1;
  while (n < 16 && v >= (POWERS_OF_TEN[n] as number)) n++;
  return n;
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of a string. */
export const bytesOf = (s: string): Uint8Array => utf8.encode(s);

/** A string as JSON text (the engine's escaping only when something needs it). */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * What a {@link JsonBytes} does when a piece does not fit: make room for at
 * least `need` bytes at `pos` — by handing what is written to its consumer
 * and starting over, or by growing the buffer.
 */
export type MakeRoom = (w: JsonBytes, need: number) => void;

/** A buffer JSON pieces are written into. `buf` and `pos` are for the owner's {@link MakeRoom}. */
export class JsonBytes {
  /** The last 64-bit value outside the safe range that was written, and its bytes (kernel addresses repeat). */
  private lastBig: bigint | null = null;
  private lastBigBytes: Uint8Array = new Uint8Array(0);

  constructor(
    public buf: Buffer,
    private readonly makeRoom: MakeRoom,
    public pos = 0,
  ) {}

  /** Makes room for `n` bytes at `pos`. */
  room(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.makeRoom(this, n);
      if (this.pos + n > this.buf.length) throw new Error(`JsonBytes: no room made for ${n} bytes`);
    }
  }

  /** Pre-encoded bytes. */
  copy(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    // Short pieces: a loop beats `set` (which costs a call and a range check).
    if (n <= 32) for (let i = 0; i < n; i++) buf[p++] = b[i] as number;
    else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
  }

  /** Text of any length, as UTF-8 (no escaping). */
  text(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos);
  }

  /** Text as it is (no escaping), as UTF-8: short ASCII copied here, anything else through the engine. */
  raw(s: string): void {
    const n = s.length;
    if (n <= SHORT_STRING) {
      this.room(n);
      const buf = this.buf;
      const p = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p + i] = c;
      }
      if (i === n) {
        this.pos = p + n;
        return;
      }
    }
    this.text(s);
  }

  /** `n` copies of the ASCII byte `b`. */
  fill(b: number, n: number): void {
    if (n <= 0) return;
    this.room(n);
    this.buf.fill(b, this.pos, this.pos + n);
    this.pos += n;
  }

  /**
   * A string as JSON, escaped as `JSON.stringify` escapes it (`\"`, `\\`,
   * `\b \f \n \r \t`, other controls as `\u00xx`) and written as UTF-8 here;
   * long strings and strings with surrogates (a lone half must be escaped) go
   * through the engine instead.
   */
  string(s: string): void {
    const n = s.length;
    if (n <= SHORT_STRING) {
      // At most 6 bytes a unit (`\u001f`), 3 for any UTF-8 character outside the surrogates.
      this.room(n * 6 + 2);
      const buf = this.buf;
      let p = this.pos;
      buf[p++] = 34;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x20 && c < 0x80) {
          if (c === 34 || c === 92) buf[p++] = 92;
          buf[p++] = c;
        } else if (c < 0x20) {
          const short = SHORT_ESCAPES[c] as number;
          buf[p++] = 92;
          if (short !== 0) buf[p++] = short;
          else {
            buf[p++] = 117; // u00 and two lower-case hex digits
            buf[p++] = 48;
            buf[p++] = 48;
            buf[p++] = HEX_DIGITS[c >> 4] as number;
            buf[p++] = HEX_DIGITS[c & 15] as number;
          }
        } else if (c < 0x800) {
          buf[p++] = 0xc0 | (c >> 6);
          buf[p++] = 0x80 | (c & 63);
        } else if (c >= 0xd800 && c < 0xe000) {
          break;
        } else {
          buf[p++] = 0xe0 | (c >> 12);
          buf[p++] = 0x80 | ((c >> 6) & 63);
          buf[p++] = 0x80 | (c & 63);
        }
      }
      if (i === n) {
        buf[p++] = 34;
        this.pos = p;
        return;
      }
    }
    this.text(jsonString(s));
  }

  /** A number as `JSON.stringify` writes it (non-finite: null); safe integers digit by digit. */
  number(v: number): void {
    if (!Number.isSafeInteger(v)) {
      this.text(Number.isFinite(v) ? String(v) : "null");
      return;
    }
    this.room(NUMBER_ROOM);
    if (v < 0) {
      this.buf[this.pos++] = 45;
      v = -v;
    }
    this.uint(v);
  }

  /** A u64's digits, unquoted. */
  digits(v: bigint): void {
    if (v >= 0n && v <= MAX_SAFE) {
      this.room(NUMBER_ROOM);
      this.uint(Number(v));
    } else {
      this.text(v.toString());
    }
  }

  /** A 64-bit value as its decimal digits in quotes (JSON numbers would lose precision). */
  quotedBigint(v: bigint): void {
    if (v >= -MAX_SAFE && v <= MAX_SAFE) {
      this.room(NUMBER_ROOM);
      let n = Number(v);
      const buf = this.buf;
      buf[this.pos++] = 34;
      if (n < 0) {
        buf[this.pos++] = 45;
        n = -n;
      }
      this.uint(n);
      buf[this.pos++] = 34;
    } else {
      // Converting a bigint to decimal is not cheap, and these repeat.
      if (v !== this.lastBig) {
        this.lastBig = v;
        this.lastBigBytes = bytesOf(`"${v}"`);
      }
      this.copy(this.lastBigBytes);
    }
  }

  /**
   * `v` / 10^`places` (1..15) as a decimal: the whole part, a point and
   * exactly `places` digits — none at all when `omitZeroFraction` and they are
   * all zero. A value in 0..2^53 − 1 is split on doubles, which is exact: a
   * correctly rounded quotient of a safe integer by a power of ten is never
   * rounded up across an integer. Anything else is written as `slow(v)` gives it.
   */
  fixedPoint(v: bigint, places: number, omitZeroFraction: boolean, slow: (v: bigint) => string): void {
    if (v < 0n || v > MAX_SAFE) {
      this.text(slow(v));
      return;
    }
    const n = Number(v);
    const unit = POWERS_OF_TEN[places] as number;
    const whole = Math.floor(n / unit);
    const frac = n - whole * unit;
    this.number(whole);
    if (frac === 0 && omitZeroFraction) return;
    this.fill(46, 1);
    this.fill(48, places - digitCount(frac));
    this.number(frac);
  }

  /** A decoded field value, by the dump schema's rules. */
  value(v: FieldValue): void {
    switch (typeof v) {
      case "number":
        this.number(v);
        break;
      case "string":
        this.string(v);
        break;
      case "bigint":
        this.quotedBigint(v);
        break;
      default:
        this.text(valueJson(v));
    }
  }

  /** Digits of a safe non-negative integer; room already made. */
  private uint(v: number): void {
    if (v < 100000000) {
      this.small(v);
      return;
    }
    // Exact: both halves of a safe integer split at 10^8 are below 10^8.
    const hi = Math.floor(v / 100000000);
    this.small(hi);
    let lo = v - hi * 100000000;
    const buf = this.buf;
    let p = this.pos + 8;
    this.pos = p;
    for (let i = 0; i < 4; i++) {
      const q = (lo / 100) | 0;
      const r = (lo - q * 100) * 2;
      buf[--p] = PAIRS[r + 1] as number;
      buf[--p] = PAIRS[r] as number;
      lo = q;
    }
  }

  /** Digits of an integer below 10^8. */
  private small(v: number): void {
    const n = v < 10000 ? (v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : 4) : v < 1000000 ? (v < 100000 ? 5 : 6) : v < 10000000 ? 7 : 8;
    const buf = this.buf;
    let p = this.pos + n;
    this.pos = p;
    while (v >= 100) {
      const q = (v / 100) | 0;
      const r = (v - q * 100) * 2;
      buf[--p] = PAIRS[r + 1] as number;
      buf[--p] = PAIRS[r] as number;
      v = q;
    }
    if (v >= 10) {
      buf[--p] = PAIRS[v * 2 + 1] as number;
      buf[--p] = PAIRS[v * 2] as number;
    } else {
      buf[--p] = 48 + v;
    }
  }
}

/** A cache of `"key":` bytes, with (`,"key":`) and without a leading comma. */
export class KeyBytes {
  private readonly first = new Map<string, Uint8Array>();
  private readonly rest = new Map<string, Uint8Array>();

  constructor(private readonly limit = 8192) {}

  get(k: string, first: boolean): Uint8Array {
    const cache = first ? this.first : this.rest;
    let b = cache.get(k);
    if (b === undefined) {
      b = bytesOf(`${first ? "" : ","}${JSON.stringify(k)}:`);
      if (cache.size < this.limit) cache.set(k, b);
    }
    return b;
  }
}

const C_CPU = bytesOf('"cpu":');
const C_PID = bytesOf(',"pid":');
const C_TID = bytesOf(',"tid":');
const C_COMM = bytesOf(',"comm":');
const C_EVENT = bytesOf(',"event":');
const C_FIELDS = bytesOf(',"fields":{');
const C_NULL = bytesOf("null");
const C_CLOSE = bytesOf("}");

/**
 * `"cpu":N,"pid":N,"tid":N,"comm":S|null,"event":S,"fields":{…}`: the members
 * every JSON line of an event carries (`trace dump`, `merge --format jsonl`),
 * in that order.
 */
export function writeEventMembers(out: JsonBytes, e: TraceEvent, keys: KeyBytes): void {
  out.copy(C_CPU);
  out.number(e.cpu);
  out.copy(C_PID);
  out.number(e.pid);
  out.copy(C_TID);
  out.number(e.tid);
  out.copy(C_COMM);
  if (e.comm === null) out.copy(C_NULL);
  else out.string(e.comm);
  out.copy(C_EVENT);
  out.string(e.name);
  out.copy(C_FIELDS);
  writeFieldMembers(out, e.fields, keys, false);
  out.copy(C_CLOSE);
}

/**
 * An event's fields as members of a JSON object, `"key":value` in their order,
 * each led by a comma — but for the first when `afterOthers` is false (the
 * object's first members).
 */
export function writeFieldMembers(out: JsonBytes, fields: EventFields, keys: KeyBytes, afterOthers: boolean): void {
  let first = !afterOthers;
  for (const k in fields) {
    out.copy(keys.get(k, first));
    first = false;
    out.value(fields[k] as FieldValue);
  }
}

