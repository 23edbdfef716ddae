/**
 * JSON lines: one event per line, an object with an exact timestamp (a
 * decimal string or a JSON integer, never read through a float), and
 * optionally `clock`, `buffer`, `cpu`, `pid`, `tid`, `comm`, `event` (or
 * `name`), `fields`, `machine`. Other top-level members become fields. The
 * schema is the one `clocksource trace dump` writes (docs/traces.md), so a
 * dump reads back.
 */
import { ClocksourceError, U64_MAX } from "@clocksource/core";
import type { BufferInfo, EventFields, FieldValue, TraceClock } from "../../model/event.js";
import { clockUnitOf } from "../text/clock-unit.js";
import { setField } from "../text/key-values.js";
import type { LineParser, LineSink, TextReaderOptions } from "../text/line-trace-reader.js";
import { isJsonObject, JsonSyntaxError, parseExactJson, type ExactJson } from "./exact-json.js";

const KNOWN = new Set(["machine", "clock", "buffer", "cpu", "pid", "tid", "comm", "event", "name", "fields"]);
const DIGITS = /^[0-9]{1,20}$/;
const INTEGER_TEXT = /^-?[0-9]{1,20}$/;
/** A number literal JSON.parse could round: 16 digits or more after `:`, `,` or `[`. */
const LONG_NUMBER = /[:,[]\s*-?[0-9]{16}/;

/** A JSON value as plain JavaScript, integers beyond 2^53 as bigints. */
type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };
interface Parsed {
  readonly value: Json;
  /** Keys the top-level object names more than once (known from the exact parser only; the fast path is taken only when the timestamp's key is written once). */
  readonly duplicates: readonly string[] | null;
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The exact parser's value as plain objects (own data properties, so a `__proto__` key stays a key). */
function toPlain(v: ExactJson): Json {
  if (Array.isArray(v)) return v.map(toPlain);
  if (isJsonObject(v)) return Object.fromEntries([...v.entries].map(([k, x]) => [k, toPlain(x)]));
  return v as Json;
}

/** Creates the JSON lines parser. */
export function createJsonLinesParser(sink: LineSink, options: TextReaderOptions, path: string): LineParser {
  return new JsonLinesParser(sink, options, path);
}

class JsonLinesParser implements LineParser {
  private readonly tsField: string;
  private readonly quotedKey: string;
  private events = 0;
  private seenObject = false;
  /** Per buffer: the clock its lines name (null: none named) and the CPUs seen. */
  private readonly buffers = new Map<string, { clock: string | null; cpus: Set<number> }>();
  private machine: string | null = null;
  private machineWarned = false;

  constructor(
    private readonly sink: LineSink,
    private readonly options: TextReaderOptions,
    private readonly path: string,
  ) {
    this.tsField = options.tsField ?? "ts";
    this.quotedKey = JSON.stringify(this.tsField);
  }

  line(text: string, lineNo: number): void {
    // Built only when a message needs it: most lines need none.
    const where = () => `${this.path}: line ${lineNo}`;
    let parsed: Parsed;
    try {
      parsed = this.parse(text);
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      if (text.trim().length === 0) return;
      // A first line that is not JSON at all means the file is not JSON lines.
      if (this.events === 0 && !this.seenObject) throw new ClocksourceError("INVALID_TRACE", `${where()}: not JSON (${e.message}): not a JSON lines trace`);
      this.sink.warn(`${where()}: not JSON (${e.message}), skipped`);
      return;
    }
    const m = parsed.value;
    if (!isObject(m)) {
      this.sink.warn(`${where()}: not a JSON object, skipped`);
      return;
    }
    this.seenObject = true;
    const tsf = this.tsField;
    if (!Object.hasOwn(m, tsf)) {
      if (this.events === 0) throw new ClocksourceError("INVALID_TRACE", `${where()}: no field ${JSON.stringify(tsf)} (name the timestamp field with --ts-field)`);
      this.sink.warn(`${where()}: no field ${JSON.stringify(tsf)}, skipped`);
      return;
    }
    if (parsed.duplicates !== null && parsed.duplicates.includes(tsf)) {
      this.sink.warn(`${where()}: field ${JSON.stringify(tsf)} appears more than once, skipped`);
      return;
    }
    const ts = u64Of(m[tsf] as Json);
    if (ts === null) {
      this.sink.warn(`${where()}: field ${JSON.stringify(tsf)} is not a u64 (a decimal string or a non-negative integer up to 2^64-1), skipped`);
      return;
    }
    const bufferValue = m.buffer;
    const buffer = typeof bufferValue === "string" ? bufferValue : "";
    const clock = m.clock;
    let b = this.buffers.get(buffer);
    if (b === undefined) {
      b = { clock: typeof clock === "string" ? clock : null, cpus: new Set() };
      this.buffers.set(buffer, b);
    } else if (typeof clock === "string" && clock !== b.clock) {
      if (b.clock === null) b.clock = clock;
      else {
        this.sink.warn(`${where()}: clock ${JSON.stringify(clock)} differs from ${JSON.stringify(b.clock)} named earlier for ${buffer === "" ? "the trace" : `buffer ${JSON.stringify(buffer)}`}; line skipped`);
        return;
      }
    }
    const machine = m.machine;
    if (typeof machine === "string") {
      if (this.machine === null) this.machine = machine;
      else if (machine !== this.machine && !this.machineWarned) {
        this.sink.warn(`${where()}: machine ${JSON.stringify(machine)} differs from ${JSON.stringify(this.machine)} named earlier: a trace is one machine's (merge several traces instead)`);
        this.machineWarned = true;
      }
    }
    const cpu = intOr(m.cpu, where, "cpu", this.sink);
    if (cpu >= 0) b.cpus.add(cpu);
    const name = m.event ?? m.name;
    const fields: EventFields = {};
    const f = m.fields;
    if (isObject(f)) {
      for (const k of Object.keys(f)) setField(fields, k, fieldValue(f[k] as Json));
    } else if (f !== undefined && f !== null) fields.fields = fieldValue(f);
    for (const k of Object.keys(m)) {
      if (k !== tsf && !KNOWN.has(k) && !Object.hasOwn(fields, k)) setField(fields, k, fieldValue(m[k] as Json));
    }
    const comm = m.comm;
    this.events++;
    this.sink.event({
      ts,
      cpu,
      pid: intOr(m.pid, where, "pid", this.sink),
      tid: intOr(m.tid, where, "tid", this.sink),
      comm: typeof comm === "string" ? comm : null,
      name: typeof name === "string" ? name : "unknown",
      fields,
      buffer,
    });
  }

  end(): void {}

  /**
   * `JSON.parse` (native, fast) when it is exact for this line: no number
   * literal of 16 digits or more (below that every integer is under 2^53), no
   * `\\u` escape and the timestamp's key written once (so no duplicate can hide).
   * Otherwise the exact parser.
   */
  private parse(text: string): Parsed {
    const key = this.quotedKey;
    const at = text.indexOf(key);
    if (at >= 0 && text.indexOf(key, at + key.length) < 0 && text.indexOf("\\u") < 0 && !LONG_NUMBER.test(text)) {
      try {
        return { value: JSON.parse(text) as Json, duplicates: null };
      } catch {
        // The exact parser's message names the offset.
      }
    }
    const v = parseExactJson(text);
    return { value: toPlain(v), duplicates: isJsonObject(v) ? v.duplicates : null };
  }

  private clockOf(named: string | null): TraceClock {
    const declared = this.options.clock;
    if (named !== null) return { name: named, unit: this.options.clockUnit ?? clockUnitOf(named), source: "clock field" };
    if (declared !== undefined && declared !== "") return { name: declared, unit: this.options.clockUnit ?? clockUnitOf(declared), source: "--clock" };
    return { name: null, unit: this.options.clockUnit ?? "unknown", source: "not in the lines" };
  }

  describe() {
    const notes: string[] = [];
    const buffers: BufferInfo[] = [];
    const names = this.buffers.size === 0 ? [""] : [...this.buffers.keys()].sort();
    for (const name of names) {
      const b = this.buffers.get(name);
      buffers.push({ name, clock: this.clockOf(b?.clock ?? null), cpus: [...(b?.cpus ?? [])].sort((x, y) => x - y) });
      const declared = this.options.clock;
      if (b?.clock != null && declared !== undefined && declared !== "" && declared !== b.clock) {
        notes.push(`${this.path}: the lines name clock ${JSON.stringify(b.clock)}; --clock ${declared} applies only to lines that name none`);
      }
    }
    const top = (buffers.find((x) => x.name === "") ?? buffers[0]) as BufferInfo;
    if (top.clock.name === null) notes.push(`${this.path}: the lines do not name their clock; pass --clock NAME or write a "clock" member`);
    return { info: { version: null, compression: null, clock: top.clock, buffers, cpuCount: null, timeRecords: {} }, notes };
  }
}

function u64Of(v: Json): bigint | null {
  if (typeof v === "bigint") return v >= 0n && v <= U64_MAX ? v : null;
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null;
  if (typeof v === "string" && DIGITS.test(v)) {
    const b = BigInt(v);
    return b <= U64_MAX ? b : null;
  }
  return null;
}

function intOr(v: Json | undefined, where: () => string, what: string, sink: LineSink): number {
  if (v === undefined || v === null) return -1;
  if (typeof v === "number" && Number.isInteger(v) && v >= -1 && v <= 0x7fffffff) return v;
  sink.warn(`${where()}: ${what} ${typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : String(v)} is not an integer from -1 to 2^31-1; taken as unknown (-1)`);
  return -1;
}

/** A JSON value as a field: scalars as they are, arrays of integers (or of decimal strings) as arrays, anything else as its JSON text. */
function fieldValue(v: Json): FieldValue {
  if (v === null || typeof v === "number" || typeof v === "bigint" || typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === "number" && Number.isInteger(x))) return v as number[];
    if (v.every((x) => typeof x === "bigint" || (typeof x === "number" && Number.isInteger(x)))) return v.map((x) => BigInt(x as number | bigint));
    // How the dump writes an array of 64-bit values: decimal strings.
    if (v.length > 0 && v.every((x) => typeof x === "string" && INTEGER_TEXT.test(x))) return v.map((x) => BigInt(x as string));
  }
  return jsonText(v);
}

/** A value as JSON text, bigints exact. */
function jsonText(v: Json): string {
  if (v === null) return "null";
  if (typeof v === "bigint") return v.toString();
  if (typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jsonText).join(",")}]`;
  return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${jsonText(v[k] as Json)}`).join(",")}}`;
}
