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
import { valueJson } from "../../writers/field-text.js";
import { jsonString } from "../../writers/json-bytes.js";

const CACHE_LIMIT = 8192;

/** Encodes events of one trace as JSON lines. */
export class EventLineEncoder {
  private readonly head: string;
  private readonly tails = new Map<string, string>();
  private readonly keys = new Map<string, string>();
  private readonly strings = new Map<string, string>();
  private lastBig = -1n;
  private lastBigJson = '"-1"';

  /**
   * @param machine the machine name every line carries
   * @param clockOf the clock name of a buffer's timestamps (null when unknown)
   */
  constructor(
    machine: string,
    private readonly clockOf: (buffer: string) => string | null,
  ) {
    this.head = `{"machine":${JSON.stringify(machine)},"ts":"`;
  }

  /** The line for one event, with its newline. */
  encode(e: TraceEvent): string {
    let s = `${this.head}${e.ts}","cpu":${e.cpu},"pid":${e.pid},"tid":${e.tid},"comm":${e.comm === null ? "null" : this.str(e.comm)},"event":${this.str(e.name)},"fields":{`;
    const f = e.fields;
    let first = true;
    for (const k in f) {
      let kj = this.keys.get(k);
      if (kj === undefined) {
        kj = `${JSON.stringify(k)}:`;
        if (this.keys.size < CACHE_LIMIT) this.keys.set(k, kj);
      }
      s += first ? kj : `,${kj}`;
      first = false;
      const v = f[k] as FieldValue;
      switch (typeof v) {
        case "number":
          s += Number.isFinite(v) ? v : "null";
          break;
        case "string":
          s += jsonString(v);
          break;
        case "bigint":
          // 64-bit fields often repeat (an ip, a flags word): converting a bigint to decimal is not cheap.
          if (v !== this.lastBig) {
            this.lastBig = v;
            this.lastBigJson = `"${v}"`;
          }
          s += this.lastBigJson;
          break;
        default:
          s += valueJson(v);
      }
    }
    return s + this.tail(e.buffer);
  }

  private str(s: string): string {
    let j = this.strings.get(s);
    if (j === undefined) {
      j = jsonString(s);
      if (this.strings.size >= CACHE_LIMIT) this.strings.clear();
      this.strings.set(s, j);
    }
    return j;
  }

  private tail(buffer: string): string {
    let t = this.tails.get(buffer);
    if (t === undefined) {
      const clock = this.clockOf(buffer);
      t = `},"clock":${clock === null ? "null" : JSON.stringify(clock)}${buffer === "" ? "" : `,"buffer":${JSON.stringify(buffer)}`}}\n`;
      this.tails.set(buffer, t);
    }
    return t;
  }
}
