import type { EventFields, FieldValue } from "../../model/event.js";

const KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const DEC = /^-?[0-9]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const ALNUM = /[A-Za-z0-9]/;

/**
 * A printed field value as the binary readers would give it: an integer when
 * the text is one (decimal or `0x` hex; a number when it fits 2^53, else a
 * bigint), the text otherwise.
 */
export function printedValue(text: string): FieldValue {
  if (DEC.test(text)) {
    if (text.length <= 15) return Number(text);
    const b = BigInt(text);
    return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
  }
  if (HEX.test(text)) {
    if (text.length <= 15) return Number(text);
    const b = BigInt(text);
    return b <= 9007199254740991n ? Number(b) : b;
  }
  return text;
}

/**
 * Sets a field whatever its name: a plain assignment to `__proto__` would
 * change the object's prototype instead of adding the field.
 */
export function setField(fields: EventFields, name: string, value: FieldValue): void {
  if (name === "__proto__") Object.defineProperty(fields, name, { value, enumerable: true, writable: true, configurable: true });
  else fields[name] = value;
}

/**
 * The `name=value` pairs an event prints (`prev_comm=bash prev_pid=12 …`), as
 * fields. A value runs to the next space; following words that hold no `=`
 * and do not open a bracket belong to it too (a comm such as `Web Content`).
 * Other words with a letter or digit (`[ns]`) are kept, in order, in a `text`
 * field (`_text` when the event has a field named `text`). Text without any
 * pair is returned whole as `text`.
 */
export function parseKeyValues(payload: string): EventFields {
  const fields: EventFields = {};
  if (payload.indexOf("=") < 0) {
    if (payload.length > 0) fields.text = payload;
    return fields;
  }
  const words = payload.split(" ");
  let rest = "";
  let key: string | null = null;
  let value = "";
  const close = () => {
    if (key !== null) setField(fields, key, printedValue(value));
    key = null;
  };
  for (const w of words) {
    if (w.length === 0) continue;
    const eq = w.indexOf("=");
    if (eq > 0 && KEY.test(w.slice(0, eq))) {
      close();
      key = w.slice(0, eq);
      value = w.slice(eq + 1);
      continue;
    }
    if (key !== null && eq < 0 && w[0] !== "[" && w[0] !== "(") {
      value = `${value} ${w}`;
      continue;
    }
    close();
    // Arrows and bars (`==>` in sched_switch) are layout, not content.
    if (!ALNUM.test(w)) continue;
    rest = rest.length > 0 ? `${rest} ${w}` : w;
  }
  close();
  if (rest.length > 0) fields[Object.hasOwn(fields, "text") ? "_text" : "text"] = rest;
  return fields;
}
