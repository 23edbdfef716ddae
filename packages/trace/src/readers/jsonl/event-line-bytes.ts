/**
 * The dump schema of {@link EventLineEncoder}, written as UTF-8 bytes straight
 * into output chunks: byte for byte what `Buffer.from(encoder.encode(e))`
 * gives (property-tested), without building a string per line.
 *
 * Why bytes: a dumped line is some thirty pieces. Joined as a string they
 * become thirty short-lived string objects, then a flat copy, then UTF-8 — for
 * a trace of millions of events the collector and the copies cost more than
 * the reading. Here the constant pieces (keys, names, comms: the same few,
 * which the readers intern) are encoded once and copied, numbers are written
 * digit by digit, and only long or new strings go through the engine's UTF-8
 * writer.
 */
import type { FieldValue, TraceEvent } from "../../model/event.js";
import { jsonString, valueJson } from "./event-line-encoder.js";

/**
 * Takes a full chunk. Returns true when the stream is already done with it (it
 * was written through to a file descriptor), so the chunk can be filled again;
 * false keeps it with the stream and a new one is used.
 */
export type ChunkHandoff = (chunk: Uint8Array) => boolean;

const DEFAULT_CHUNK = 1 << 16;
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
const CACHE_LIMIT = 8192;
/** Room a number takes at most: `-9007199254740991` or a double's shortest form. */
const NUMBER_ROOM = 32;

/** "00".."99" as ASCII byte pairs. */
const PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  PAIRS[2 * i] = 48 + Math.floor(i / 10);
  PAIRS[2 * i + 1] = 48 + (i % 10);
}

const utf8 = new TextEncoder();
const bytesOf = (s: string): Uint8Array => utf8.encode(s);

const C_TS_END = bytesOf('","cpu":');
const C_PID = bytesOf(',"pid":');
const C_TID = bytesOf(',"tid":');
const C_COMM = bytesOf(',"comm":');
const C_EVENT = bytesOf(',"event":');
const C_FIELDS = bytesOf(',"fields":{');
const C_NULL = bytesOf("null");

/** Encodes the events of one trace as JSON lines into chunks handed to a sink. */
export class EventLineBytes {
  private buf: Buffer;
  private pos = 0;
  private readonly head: Uint8Array;
  private readonly tails = new Map<string, Uint8Array>();
  /** JSON bytes of field names, with (`keys`) and without (`firstKeys`) a leading `,`. */
  private readonly keys = new Map<string, Uint8Array>();
  private readonly firstKeys = new Map<string, Uint8Array>();
  private lastBig = 0n;
  private lastBigBytes = bytesOf('"0"');

  /**
   * @param machine the machine name every line carries
   * @param clockOf the clock name of a buffer's timestamps (null when unknown)
   * @param sink where full chunks go
   * @param chunkBytes chunk size (at least 64 bytes; 64 KiB by default)
   */
  constructor(
    machine: string,
    private readonly clockOf: (buffer: string) => string | null,
    private readonly sink: ChunkHandoff,
    private readonly chunkBytes = DEFAULT_CHUNK,
  ) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64) throw new RangeError(`chunk size must be an integer of at least 64 bytes, got ${chunkBytes}`);
    this.buf = Buffer.allocUnsafe(chunkBytes);
    this.head = bytesOf(`{"machine":${JSON.stringify(machine)},"ts":"`);
  }

  /** Bytes written but not yet handed to the sink. */
  get pending(): number {
    return this.pos;
  }

  /** Appends the line for one event, with its newline. */
  write(e: TraceEvent): void {
    this.copy(this.head);
    this.bigint(e.ts);
    this.copy(C_TS_END);
    this.number(e.cpu);
    this.copy(C_PID);
    this.number(e.pid);
    this.copy(C_TID);
    this.number(e.tid);
    this.copy(C_COMM);
    if (e.comm === null) this.copy(C_NULL);
    else this.string(e.comm);
    this.copy(C_EVENT);
    this.string(e.name);
    this.copy(C_FIELDS);
    const f = e.fields;
    let first = true;
    for (const k in f) {
      this.copy(this.key(k, first));
      first = false;
      const v = f[k] as FieldValue;
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
    this.copy(this.tail(e.buffer));
  }

  /** Hands what is pending to the sink. */
  flush(): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.pos = 0;
    if (!this.sink(chunk)) this.buf = Buffer.allocUnsafe(this.chunkBytes);
  }

  /** Makes room for `n` bytes; `n` must not exceed the chunk size (what is written past a chunk's end is lost). */
  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }

  private copy(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) {
        this.sink(b);
        return;
      }
    }
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

  /** Text of any length, as UTF-8. */
  private text(s: string): void {
    if (s.length * 3 > this.buf.length) {
      this.flush();
      this.sink(bytesOf(s));
      return;
    }
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos);
  }

  /**
   * A string as JSON, escaped as `JSON.stringify` escapes it (`\"`, `\\`,
   * `\b \f \n \r \t`, other controls as `\u00xx`) and written as UTF-8 here;
   * long strings and strings with surrogates (a lone half must be escaped) go
   * through the engine instead.
   */
  private string(s: string): void {
    const n = s.length;
    // At most 6 bytes a unit (`\u001f`), 3 for any UTF-8 character outside the surrogates; the room must fit a chunk.
    if (n <= SHORT_STRING && n * 6 + 2 <= this.buf.length) {
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

  private key(k: string, first: boolean): Uint8Array {
    const cache = first ? this.firstKeys : this.keys;
    let b = cache.get(k);
    if (b === undefined) {
      b = bytesOf(`${first ? "" : ","}${JSON.stringify(k)}:`);
      if (cache.size < CACHE_LIMIT) cache.set(k, b);
    }
    return b;
  }

  /** A number as `JSON.stringify` writes it (non-finite: null); safe integers digit by digit. */
  private number(v: number): void {
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

  /** A u64 timestamp's digits (no quotes). */
  private bigint(v: bigint): void {
    if (v >= 0n && v <= 9007199254740991n) {
      this.room(NUMBER_ROOM);
      this.uint(Number(v));
    } else {
      this.text(v.toString());
    }
  }

  /** A 64-bit field: its decimal digits in quotes. */
  private quotedBigint(v: bigint): void {
    if (v >= -9007199254740991n && v <= 9007199254740991n) {
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
      // Larger ones are mostly kernel addresses (an ip), which repeat: converting a bigint to decimal is not cheap.
      if (v !== this.lastBig) {
        this.lastBig = v;
        this.lastBigBytes = bytesOf(`"${v}"`);
      }
      this.copy(this.lastBigBytes);
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

  private tail(buffer: string): Uint8Array {
    let t = this.tails.get(buffer);
    if (t === undefined) {
      const clock = this.clockOf(buffer);
      t = bytesOf(`},"clock":${clock === null ? "null" : JSON.stringify(clock)}${buffer === "" ? "" : `,"buffer":${JSON.stringify(buffer)}`}}\n`);
      this.tails.set(buffer, t);
    }
    return t;
  }
}
