/**
 * One event as one line of JSON, in the schema the JSON lines reader reads
 * back (`clocksource trace dump`; docs/traces.md):
 *
 * `{"machine":M,"ts":"<u64>","cpu":N,"pid":N,"tid":N,"comm":S|null,"event":S,"fields":{…},"clock":S|null[,"buffer":S]}`
 *
 * Field values: numbers as JSON numbers, bigints (64-bit values) as decimal
 * strings, byte arrays as lower-case hex strings, arrays as JSON arrays
 * (bigint elements as decimal strings), strings as strings, null as null.
 *
 * Written by hand rather than with `JSON.stringify` per event: the constant
 * parts are built once per buffer, and the JSON text of keys, comms and event
 * names is cached, because dumping is bound by this loop.
 */
import type { FieldValue, TraceEvent } from "../../model/event.js";
import { hexBytes } from "../../writers/field-text.js";
import { asciiBytes, LineBytes } from "../../writers/line-bytes.js";

/** Characters that force a string through `JSON.stringify` (quote, backslash, controls, lone surrogate halves). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const NOT_ASCII = /[^\u0000-\u007f]/;
const CACHE_LIMIT = 8192;

function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** The UTF-8 bytes of a JSON text. */
function jsonBytes(json: string): Uint8Array {
  return NOT_ASCII.test(json) ? Buffer.from(json, "utf8") : asciiBytes(json);
}

const NULL = asciiBytes("null");
const CPU = asciiBytes('","cpu":');
const PID = asciiBytes(',"pid":');
const TID = asciiBytes(',"tid":');
const COMM = asciiBytes(',"comm":');
const EVENT = asciiBytes(',"event":');
const FIELDS = asciiBytes(',"fields":{');
const QUOTE = asciiBytes('"');

/** A field name's JSON, first in the object and after another. */
interface KeyBytes {
  readonly key: string;
  readonly first: Uint8Array;
  readonly next: Uint8Array;
}

/** Encodes events of one trace as JSON lines. */
export class EventLineEncoder {
  private readonly head: Uint8Array;
  private readonly tails = new Map<string, Uint8Array>();
  /** `"key":` and `,"key":` per field name. */
  private readonly keys = new Map<string, KeyBytes>();
  /** The fields of each event name, in the order last seen. */
  private readonly byName = new Map<string, KeyBytes[]>();
  /** The JSON bytes of strings seen (comms, event names, string field values). */
  private readonly strings = new Map<string, Uint8Array>();

  /**
   * @param machine the machine name every line carries
   * @param clockOf the clock name of a buffer's timestamps (null when unknown)
   */
  constructor(
    machine: string,
    private readonly clockOf: (buffer: string) => string | null,
  ) {
    this.head = jsonBytes(`{"machine":${JSON.stringify(machine)},"ts":"`);
  }

  /** The line for one event, with its newline, as a string (see {@link encodeInto} for bulk output). */
  encode(e: TraceEvent): string {
    const pieces: Buffer[] = [];
    const w = new LineBytes((p) => pieces.push(p));
    this.encodeInto(e, w);
    w.flush();
    return Buffer.concat(pieces).toString("utf8");
  }

  /** Writes the line for one event, with its newline, as UTF-8 bytes. */
  encodeInto(e: TraceEvent, w: LineBytes): void {
    w.bytes(this.head);
    w.bigint(e.ts);
    w.bytes(CPU);
    w.integer(e.cpu);
    w.bytes(PID);
    w.integer(e.pid);
    w.bytes(TID);
    w.integer(e.tid);
    w.bytes(COMM);
    w.bytes(e.comm === null ? NULL : this.str(e.comm));
    w.bytes(EVENT);
    w.bytes(this.str(e.name));
    w.bytes(FIELDS);
    const f = e.fields;
    // Events of one name carry the same fields in the same order: their key bytes are looked up
    // by position (a string comparison) rather than in a map per field.
    let known = this.byName.get(e.name);
    if (known === undefined) {
      known = [];
      if (this.byName.size < CACHE_LIMIT) this.byName.set(e.name, known);
    }
    let i = 0;
    for (const k in f) {
      let kj = known[i];
      if (kj === undefined || kj.key !== k) {
        kj = this.keyBytes(k);
        if (i === known.length) known.push(kj);
      }
      w.bytes(i === 0 ? kj.first : kj.next);
      i++;
      const v = f[k] as FieldValue;
      switch (typeof v) {
        case "number":
          if (Number.isSafeInteger(v)) w.integer(v);
          else w.latin1(Number.isFinite(v) ? String(v) : "null");
          break;
        case "string":
          w.bytes(this.str(v));
          break;
        case "bigint":
          w.bytes(QUOTE);
          w.bigint(v);
          w.bytes(QUOTE);
          break;
        default:
          w.latin1(valueJson(v));
      }
    }
    w.bytes(this.tail(e.buffer));
  }

  private keyBytes(k: string): KeyBytes {
    let kj = this.keys.get(k);
    if (kj === undefined) {
      const json = `${JSON.stringify(k)}:`;
      kj = { key: k, first: jsonBytes(json), next: jsonBytes(`,${json}`) };
      if (this.keys.size < CACHE_LIMIT) this.keys.set(k, kj);
    }
    return kj;
  }

  private str(s: string): Uint8Array {
    let j = this.strings.get(s);
    if (j === undefined) {
      j = jsonBytes(jsonString(s));
      if (this.strings.size >= CACHE_LIMIT) this.strings.clear();
      this.strings.set(s, j);
    }
    return j;
  }

  private tail(buffer: string): Uint8Array {
    let t = this.tails.get(buffer);
    if (t === undefined) {
      const clock = this.clockOf(buffer);
      t = jsonBytes(`},"clock":${clock === null ? "null" : JSON.stringify(clock)}${buffer === "" ? "" : `,"buffer":${JSON.stringify(buffer)}`}}\n`);
      this.tails.set(buffer, t);
    }
    return t;
  }
}

/** The JSON of an array or byte-array value: ASCII only (numbers, decimal strings, hex). */
function valueJson(v: FieldValue): string {
  if (v === null || v === undefined) return "null";
  if (v instanceof Uint8Array) return `"${hexBytes(v)}"`;
  const a = v as readonly (number | bigint)[];
  let s = "[";
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number | bigint;
    s += (i > 0 ? "," : "") + (typeof x === "bigint" ? `"${x}"` : Number.isFinite(x) ? String(x) : "null");
  }
  return `${s}]`;
}
