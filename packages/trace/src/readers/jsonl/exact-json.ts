/**
 * A JSON parser that keeps integers exact: `JSON.parse` turns every number
 * into a float, so a 64-bit timestamp written as a JSON number would silently
 * lose its low digits. Here an integer literal beyond ±(2^53-1) becomes a
 * bigint; every other number is a number. Objects remember which keys were
 * written more than once (JSON allows it; which one the writer meant is a
 * guess we do not make for the fields we read).
 */

/** A parsed JSON value with exact integers. */
export type ExactJson = null | boolean | number | bigint | string | ExactJson[] | ExactJsonObject;

/** A parsed JSON object; `duplicates` lists keys that appeared more than once. */
export interface ExactJsonObject {
  readonly entries: Map<string, ExactJson>;
  readonly duplicates: readonly string[] | null;
}

/** Why a text is not JSON, with the character offset. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at character ${offset + 1}`);
    this.name = "JsonSyntaxError";
  }
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;

/** True when `v` is a parsed JSON object (not an array or a scalar). */
export function isJsonObject(v: ExactJson | undefined): v is ExactJsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses one JSON text exactly (see the module comment).
 * @throws JsonSyntaxError naming the offset; nesting deeper than 64 levels is refused
 */
export function parseExactJson(text: string): ExactJson {
  let i = 0;
  const n = text.length;
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else return;
    }
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(i >= n ? `unexpected end of JSON (${what})` : `${what}`, i);
  };
  const str = (): string => {
    i++; // opening quote
    let out = "";
    for (;;) {
      PLAIN_STRING.lastIndex = i;
      PLAIN_STRING.exec(text);
      out += text.slice(i, PLAIN_STRING.lastIndex);
      i = PLAIN_STRING.lastIndex;
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return out;
      }
      if (c !== 92) fail(i >= n ? "unterminated string" : "control character in a string");
      const e = text[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          i -= 2;
          fail("bad escape in a string");
      }
    }
  };
  const value = (depth: number): ExactJson => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    ws();
    const c = text.charCodeAt(i);
    if (c === 34) return str();
    if (c === 123) {
      i++;
      const entries = new Map<string, ExactJson>();
      let duplicates: string[] | null = null;
      ws();
      if (text.charCodeAt(i) === 125) {
        i++;
        return { entries, duplicates };
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 34) fail("expected a key");
        const k = str();
        ws();
        if (text.charCodeAt(i) !== 58) fail("expected ':'");
        i++;
        const v = value(depth + 1);
        if (entries.has(k)) (duplicates ??= []).push(k);
        entries.set(k, v);
        ws();
        const d = text.charCodeAt(i);
        i++;
        if (d === 125) return { entries, duplicates };
        if (d !== 44) {
          i--;
          fail("expected ',' or '}'");
        }
      }
    }
    if (c === 91) {
      i++;
      const arr: ExactJson[] = [];
      ws();
      if (text.charCodeAt(i) === 93) {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        i++;
        if (d === 93) return arr;
        if (d !== 44) {
          i--;
          fail("expected ',' or ']'");
        }
      }
    }
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail("expected a value");
    i = NUMBER.lastIndex;
    const lit = m[0];
    if (m[1] === undefined && m[2] === undefined) {
      if (lit.length <= 15) return Number(lit);
      const b = BigInt(lit);
      return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
    }
    return Number(lit);
  };
  const v = value(0);
  ws();
  if (i < n) fail("unexpected text after the value");
  return v;
}
