/**
 * How decoded field values are written in text formats: integers exactly in
 * decimal (bigints too), strings as they are, byte arrays in hex, arrays as
 * comma-separated lists in brackets.
 */
import type { FieldValue } from "../model/event.js";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of bytes, no separators. */
export function hexBytes(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i] as number];
  return s;
}

/** A field value as plain text (for `key=value` lists). */
export function fieldText(v: FieldValue): string {
  if (v === null) return "(null)";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return hexBytes(v);
  return `[${(v as readonly (number | bigint)[]).join(",")}]`;
}

/** JSON text of the field values that are neither numbers, strings nor bigints: null, byte arrays (hex), arrays. */
export function valueJson(v: FieldValue): string {
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

/**
 * A field value as JSON text: numbers as JSON numbers (non-finite: null);
 * bigints as decimal strings (exact at any size); byte arrays as hex strings;
 * arrays as JSON arrays (bigint elements as strings).
 */
export function fieldJson(v: FieldValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "bigint") return `"${v}"`;
  return valueJson(v);
}
