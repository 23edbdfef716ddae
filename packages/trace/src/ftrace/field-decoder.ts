import type { EventFields, FieldValue } from "../model/event.js";
import { cString } from "./c-string.js";
import type { EventFormat, FormatField } from "./event-format.js";

/** Decodes one record of a known format: `common_pid` and the event's own fields. */
export type FieldDecoder = (record: Uint8Array | DataView, offset: number, length: number) => { pid: number; fields: EventFields };

// What a field compiles to: one switch case per kind, no per-event look at the format.
type K = number;
const K_U8 = 0;
const K_S8 = 1;
const K_U16 = 2;
const K_S16 = 3;
const K_U32 = 4;
const K_S32 = 5;
const K_U64 = 6;
const K_S64 = 7;
const K_StrFixed = 8;
const K_StrTail = 9;
const K_StrDyn = 10;
const K_ArrFixed = 11;
const K_ArrTail = 12;
const K_ArrDyn = 13;
const K_BytesFixed = 14;
const K_BytesTail = 15;
const K_BytesDyn = 16;

interface Step {
  readonly name: string;
  readonly kind: K;
  readonly offset: number;
  readonly size: number;
  /** Arrays: element kind (a scalar K) and size. */
  readonly elem: K;
  readonly elemSize: number;
  /** `__rel_loc`: offsets count from the end of the field. */
  readonly rel: boolean;
}

function scalarKind(size: number, signed: boolean): K | null {
  switch (size) {
    case 1:
      return signed ? K_S8 : K_U8;
    case 2:
      return signed ? K_S16 : K_U16;
    case 4:
      return signed ? K_S32 : K_U32;
    case 8:
      return signed ? K_S64 : K_U64;
    default:
      return null;
  }
}

function compile(f: FormatField): Step {
  const base = { name: f.name, offset: f.offset, size: f.size, rel: f.dynamic === "rel_loc" };
  const elemKind = f.elementSize === null ? null : scalarKind(f.elementSize, f.signed);
  if (f.dynamic) {
    if (f.isString) return { ...base, kind: K_StrDyn, elem: K_U8, elemSize: 1 };
    if (elemKind !== null) return { ...base, kind: K_ArrDyn, elem: elemKind, elemSize: f.elementSize as number };
    return { ...base, kind: K_BytesDyn, elem: K_U8, elemSize: 1 };
  }
  if (f.arrayLength !== null) {
    const tail = f.arrayLength === 0 && f.size === 0;
    if (f.isString) return { ...base, kind: tail ? K_StrTail : K_StrFixed, elem: K_U8, elemSize: 1 };
    if (elemKind !== null) return { ...base, kind: tail ? K_ArrTail : K_ArrFixed, elem: elemKind, elemSize: f.elementSize as number };
    return { ...base, kind: tail ? K_BytesTail : K_BytesFixed, elem: K_U8, elemSize: 1 };
  }
  const k = scalarKind(f.size, f.signed);
  if (k !== null) return { ...base, kind: k, elem: k, elemSize: f.size };
  return { ...base, kind: K_BytesFixed, elem: K_U8, elemSize: 1 };
}

function readScalar(v: DataView, kind: K, p: number, le: boolean): number | bigint {
  switch (kind) {
    case K_U8:
      return v.getUint8(p);
    case K_S8:
      return v.getInt8(p);
    case K_U16:
      return v.getUint16(p, le);
    case K_S16:
      return v.getInt16(p, le);
    case K_U32:
      return v.getUint32(p, le);
    case K_S32:
      return v.getInt32(p, le);
    case K_U64:
      return v.getBigUint64(p, le);
    default:
      return v.getBigInt64(p, le);
  }
}

function readArray(v: DataView, elem: K, elemSize: number, p: number, count: number, le: boolean): readonly number[] | readonly bigint[] {
  if (elemSize === 8) {
    const out: bigint[] = new Array<bigint>(count);
    for (let i = 0; i < count; i++) out[i] = readScalar(v, elem, p + i * 8, le) as bigint;
    return out;
  }
  const out: number[] = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = readScalar(v, elem, p + i * elemSize, le) as number;
  return out;
}

/** Decodes the fields of one record given both views of its bytes (what the readers' hot loops call). */
export type FieldsDecoder = (view: DataView, bytes: Uint8Array, offset: number, length: number) => EventFields;

/** One field of the record at `offset` whose bytes end at `end`. */
function decodeStep(view: DataView, bytes: Uint8Array, offset: number, end: number, s: Step, le: boolean): FieldValue {
  const p = offset + s.offset;
  if (s.kind <= K_S64) return p + s.size <= end ? readScalar(view, s.kind, p, le) : null;
  switch (s.kind) {
    case K_StrFixed:
      return p + s.size <= end ? cString(bytes, p, p + s.size) : null;
    case K_StrTail:
      return p <= end ? cString(bytes, p, end) : null;
    case K_ArrFixed:
      return p + s.size <= end ? readArray(view, s.elem, s.elemSize, p, s.size / s.elemSize, le) : null;
    case K_ArrTail:
      return p <= end ? readArray(view, s.elem, s.elemSize, p, Math.floor((end - p) / s.elemSize), le) : null;
    case K_BytesFixed:
      return p + s.size <= end ? bytes.slice(p, p + s.size) : null;
    case K_BytesTail:
      return p <= end ? bytes.slice(p, end) : null;
  }
  // __data_loc / __rel_loc: a u32 word, low half the offset, high half the length.
  if (p + 4 > end) return null;
  const w = view.getUint32(p, le);
  let start = offset + (w & 0xffff);
  if (s.rel) start += s.offset + 4;
  const n = w >>> 16;
  if (start + n > end) return null;
  if (s.kind === K_StrDyn) return cString(bytes, start, start + n);
  if (s.kind === K_ArrDyn) return readArray(view, s.elem, s.elemSize, start, Math.floor(n / s.elemSize), le);
  return bytes.slice(start, start + n);
}

/** The step-by-step decoder: the format's steps walked for every record. */
function interpretedDecoder(steps: readonly Step[], le: boolean): FieldsDecoder {
  // A field named __proto__ must not reach a plain object's prototype setter.
  const nullProto = steps.some((s) => s.name === "__proto__");
  return (view, bytes, offset, length) => {
    const end = offset + length;
    const fields: EventFields = nullProto ? (Object.create(null) as EventFields) : {};
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i] as Step;
      fields[s.name] = decodeStep(view, bytes, offset, end, s, le);
    }
    return fields;
  };
}

const GETTERS: Readonly<Record<number, string>> = {
  [K_U8]: "getUint8",
  [K_S8]: "getInt8",
  [K_U16]: "getUint16",
  [K_S16]: "getInt16",
  [K_U32]: "getUint32",
  [K_S32]: "getInt32",
  [K_U64]: "getBigUint64",
  [K_S64]: "getBigInt64",
};

/**
 * The same decoder compiled to one function per format: every offset a
 * constant, every fixed-size scalar and string read inline, and the fields
 * object built by one literal, so it is born with its final shape instead of
 * growing a property at a time (the decoder is the reader's hottest code).
 * Only numbers checked to be integers and names quoted by `JSON.stringify`
 * reach the source text. Returns null when the format cannot be compiled
 * (a field named `__proto__`, which a literal would take as the prototype) or
 * the engine refuses code generation; the interpreted decoder is used then.
 */
function compiledDecoder(steps: readonly Step[], le: boolean): FieldsDecoder | null {
  if (steps.some((s) => s.name === "__proto__" || !Number.isSafeInteger(s.offset) || !Number.isSafeInteger(s.size))) return null;
  const props = steps.map((s, i) => {
    const key = JSON.stringify(s.name);
    const p = `offset + ${s.offset}`;
    const getter = GETTERS[s.kind];
    if (getter !== undefined) return `${key}: ${p} + ${s.size} <= end ? view.${getter}(${p}, ${le}) : null`;
    if (s.kind === K_StrFixed) return `${key}: ${p} + ${s.size} <= end ? cString(bytes, ${p}, ${p} + ${s.size}) : null`;
    return `${key}: decodeStep(view, bytes, offset, end, steps[${i}], ${le})`;
  });
  const body = `"use strict";\nreturn (view, bytes, offset, length) => {\n  const end = offset + length;\n  return {\n    ${props.join(",\n    ")}\n  };\n};`;
  try {
    const make = new Function("cString", "decodeStep", "steps", body) as (c: typeof cString, d: typeof decodeStep, s: readonly Step[]) => FieldsDecoder;
    return make(cString, decodeStep, steps);
  } catch {
    return null;
  }
}

/** How {@link createFieldsDecoder} builds the decoder: compiled when it can (the default), or interpreted. */
export interface FieldsDecoderOptions {
  readonly compile?: boolean;
}

/** The compiled decoder of a format, or null where it cannot be compiled (see {@link createFieldsDecoder}). */
export function compileFieldsDecoder(format: EventFormat, littleEndian: boolean): FieldsDecoder | null {
  return compiledDecoder(format.fields.map(compile), littleEndian);
}

/**
 * The fields-only form of {@link createFieldDecoder}, for readers that hold a
 * DataView and a Uint8Array over the same bytes and read `common_pid` themselves.
 * The compiled and the interpreted decoder give the same fields, in the same
 * order, for every record (property-tested).
 */
export function createFieldsDecoder(format: EventFormat, littleEndian: boolean, options: FieldsDecoderOptions = {}): FieldsDecoder {
  const steps = format.fields.map(compile);
  return (options.compile !== false ? compiledDecoder(steps, littleEndian) : null) ?? interpretedDecoder(steps, littleEndian);
}

/** Offset of `common_pid` (a 4-byte int) in a format's records, or -1. */
export function commonPidOffset(format: EventFormat): number {
  const f = format.commonFields.find((c) => c.name === "common_pid");
  return f && f.size === 4 ? f.offset : -1;
}

/**
 * Compiles a decoder for one event format: the format is looked at once, here,
 * and each record is then decoded by offset. Integers up to 32 bits become
 * numbers and 64-bit ones bigints (exact); `char` arrays, trailing `char x[]`
 * and `__data_loc char[]` become strings (up to the first NUL); other arrays
 * become number or bigint arrays; anything else (odd sizes, structs) a copy of
 * its bytes. A field that lies outside the record decodes to null.
 *
 * @param record the bytes holding the record; `offset` and `length` delimit the record in it
 */
export function createFieldDecoder(format: EventFormat, littleEndian: boolean): FieldDecoder {
  const le = littleEndian;
  const decode = createFieldsDecoder(format, le);
  const pidOffset = commonPidOffset(format);
  let lastRecord: Uint8Array | DataView | null = null;
  let view: DataView = new DataView(new ArrayBuffer(0));
  let bytes: Uint8Array = new Uint8Array(0);

  return (record, offset, length) => {
    if (record !== lastRecord) {
      lastRecord = record;
      if (record instanceof Uint8Array) {
        bytes = record;
        view = new DataView(record.buffer, record.byteOffset, record.byteLength);
      } else {
        view = record;
        bytes = new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
      }
    }
    const pid = pidOffset >= 0 && pidOffset + 4 <= length ? view.getInt32(offset + pidOffset, le) : -1;
    return { pid, fields: decode(view, bytes, offset, length) };
  };
}
