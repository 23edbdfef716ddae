/**
 * Finding a top-level field's value in one JSON-lines line, on the line's
 * bytes, so the value can be replaced while every other byte of the line
 * stays as it was (invalid UTF-8 included).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const decoder = new TextDecoder();
const isWs = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** A value's byte span: [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * The spans of every value of the top-level field `name` in a JSON object's
 * bytes `line[0, length)`, found without re-serializing (the line must already
 * be valid JSON). Every one, not the first: a duplicated key is legal JSON
 * text, and JSON.parse keeps the last. Undefined when the text is not an
 * object the scanner can follow.
 */
export function fieldValueSpans(line: Uint8Array, length: number, name: string): Span[] | undefined {
  const spans: Span[] = [];
  let i = 0;
  const n = length;
  const ws = () => {
    while (i < n && isWs(line[i])) i++;
  };
  const skipString = () => {
    i++; // opening quote
    while (i < n && line[i] !== QUOTE) i += line[i] === BACKSLASH ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    ws();
    const c = line[i];
    if (c === QUOTE) return skipString();
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      while (i < n) {
        const d = line[i];
        if (d === QUOTE) {
          skipString();
          continue;
        }
        if (d === 0x7b || d === 0x5b) depth++;
        else if (d === 0x7d || d === 0x5d) {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    while (i < n) {
      const d = line[i] as number;
      if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break;
      i++;
    }
  };
  ws();
  if (line[i] !== 0x7b) return undefined;
  i++;
  ws();
  if (line[i] === 0x7d) return spans;
  for (;;) {
    ws();
    if (line[i] !== QUOTE) return undefined;
    const keyStart = i;
    skipString();
    const key = JSON.parse(decoder.decode(line.subarray(keyStart, i))) as string;
    ws();
    if (line[i] !== 0x3a) return undefined;
    i++;
    ws();
    const start = i;
    skipValue();
    if (key === name) spans.push({ start, end: i });
    ws();
    if (line[i] === 0x7d) return spans;
    if (line[i] !== 0x2c) return undefined;
    i++;
  }
}
