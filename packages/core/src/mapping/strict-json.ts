/**
 * JSON as files that decide how timestamps convert need it: `JSON.parse`
 * silently keeps the LAST of two equal keys, so `{"tscOffset": "0",
 * "tscOffset": "-7"}` would convert by a value the reader of the file may
 * never have noticed. {@link parseStrictJson} parses with `JSON.parse` (its
 * syntax rules and messages) and then rejects any object with a repeated key,
 * comparing keys after unescaping (`"a"` and `"\u0061"` are the same key), and
 * nesting deeper than a bound.
 */

/** Why {@link parseStrictJson} refused a text; `path` is the JSON path of the offending member. */
export class StrictJsonError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "StrictJsonError";
  }
}

type Frame = { readonly kind: "object"; readonly keys: Set<string>; key: string | null; expectKey: boolean } | { readonly kind: "array"; index: number };

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pathOf(stack: readonly Frame[], upTo: number): string {
  let p = "$";
  for (let i = 0; i < upTo; i++) {
    const f = stack[i] as Frame;
    if (f.kind === "array") p += `[${f.index}]`;
    else if (f.key !== null) p += IDENT.test(f.key) || /^[0-9]+$/.test(f.key) ? `.${f.key}` : `[${JSON.stringify(f.key)}]`;
  }
  return p;
}

/**
 * Finds the first repeated object key of a text `JSON.parse` accepted, or
 * nesting deeper than `maxDepth`. Linear in the text; assumes valid JSON.
 */
function scan(text: string, maxDepth: number): StrictJsonError | null {
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x22) break;
        if (d === 0x5c) {
          escaped = true;
          j += 2;
        } else j++;
      }
      const top = stack[stack.length - 1];
      if (top?.kind === "object" && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.keys.has(key)) {
          top.key = key;
          const path = pathOf(stack, stack.length);
          return new StrictJsonError(path, `${path}: duplicate key ${JSON.stringify(key)}`);
        }
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) {
        const path = pathOf(stack, stack.length);
        return new StrictJsonError(path, `${path}: nested deeper than ${maxDepth} levels`);
      }
      stack.push(c === 0x7b ? { kind: "object", keys: new Set(), key: null, expectKey: true } : { kind: "array", index: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1] as Frame;
      if (top.kind === "object") top.expectKey = true;
      else top.index++;
    }
  }
  return null;
}

/**
 * `JSON.parse`, refusing repeated keys in any object and nesting deeper than
 * `maxDepth` (default 64).
 * @throws SyntaxError from `JSON.parse` for text that is not JSON
 * @throws StrictJsonError naming the path of a repeated key or of the too-deep value
 */
export function parseStrictJson(text: string, maxDepth = 64): unknown {
  const value: unknown = JSON.parse(text);
  const problem = scan(text, maxDepth);
  if (problem) throw problem;
  return value;
}
