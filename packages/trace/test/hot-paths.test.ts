/**
 * The readers' fast paths against their plain forms, on random inputs: the
 * compiled field decoder against the interpreted one, the interned C strings
 * against a fresh decoding, and the run-merging sort against the engine's sort.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventFormat, FormatField } from "../src/ftrace/event-format.js";
import { cString } from "../src/ftrace/c-string.js";
import { compileFieldsDecoder, createFieldsDecoder } from "../src/ftrace/field-decoder.js";
import { sortRuns } from "../src/model/run-merge-sort.js";

/** A field of any kind the decoder knows, at a random place (records may be cut short anywhere). */
const field: fc.Arbitrary<FormatField> = fc
  .record({
    name: fc.oneof(
      fc.string({ unit: "binary", maxLength: 6 }),
      fc.constantFrom("pid", "comm", "constructor", "toString", "__defineGetter__", '"', "\\", "a\u2028b", "`${x}`", "*/", "0", "-1"),
    ),
    kind: fc.constantFrom("scalar", "char[]", "char[] tail", "array", "array tail", "bytes", "data_loc str", "data_loc arr", "rel_loc str", "data_loc bytes"),
    offset: fc.nat(40),
    elem: fc.constantFrom(1, 2, 4, 8),
    count: fc.integer({ min: 1, max: 5 }),
    odd: fc.constantFrom(3, 5, 6, 7),
    signed: fc.boolean(),
  })
  .map(({ name, kind, offset, elem, count, odd, signed }) => {
    const base = { name, type: kind, offset, signed, common: false, elementType: "x" };
    switch (kind) {
      case "scalar":
        return { ...base, size: elem, arrayLength: null, dynamic: null, elementSize: elem, isString: false };
      case "char[]":
        return { ...base, size: count * 4, arrayLength: count * 4, dynamic: null, elementSize: 1, isString: true };
      case "char[] tail":
        return { ...base, size: 0, arrayLength: 0, dynamic: null, elementSize: 1, isString: true };
      case "array":
        return { ...base, size: elem * count, arrayLength: count, dynamic: null, elementSize: elem, isString: false };
      case "array tail":
        return { ...base, size: 0, arrayLength: 0, dynamic: null, elementSize: elem, isString: false };
      case "bytes":
        return { ...base, size: odd, arrayLength: null, dynamic: null, elementSize: odd, isString: false };
      case "data_loc str":
        return { ...base, size: 4, arrayLength: null, dynamic: "data_loc" as const, elementSize: 1, isString: true };
      case "rel_loc str":
        return { ...base, size: 4, arrayLength: null, dynamic: "rel_loc" as const, elementSize: 1, isString: true };
      case "data_loc arr":
        return { ...base, size: 4, arrayLength: null, dynamic: "data_loc" as const, elementSize: elem, isString: false };
      default:
        return { ...base, size: 4, arrayLength: null, dynamic: "data_loc" as const, elementSize: null, isString: false };
    }
  });

const format = (fields: FormatField[]): EventFormat => ({ system: "t", name: "t", id: 1, commonFields: [], fields, printFmt: "" }) as unknown as EventFormat;

/** Own entries in order, byte arrays as plain arrays (so a difference in kind shows). */
const entries = (o: object) => Object.entries(o).map(([k, v]) => [k, v instanceof Uint8Array ? ["bytes", ...v] : v]);

describe("compiled field decoder", () => {
  it("gives the interpreted decoder's fields, in its order, for any format and any (short) record, both byte orders", () => {
    fc.assert(
      fc.property(
        fc.array(field, { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ minLength: 0, maxLength: 120 }),
        fc.nat(8),
        fc.nat(120),
        fc.boolean(),
        (fields, bytes, lead, cut, le) => {
          const f = format(fields);
          const compiled = compileFieldsDecoder(f, le);
          expect(compiled).not.toBeNull();
          const plain = createFieldsDecoder(f, le, { compile: false });
          const buf = new Uint8Array(lead + bytes.length);
          buf.set(bytes, lead);
          const view = new DataView(buf.buffer);
          const length = Math.min(cut, bytes.length);
          expect(entries((compiled as NonNullable<typeof compiled>)(view, buf, lead, length))).toEqual(entries(plain(view, buf, lead, length)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a field named __proto__ is not compiled (a literal would set the prototype); the decoder still keeps it as a field", () => {
    const f = format([{ name: "__proto__", type: "int", offset: 0, size: 4, signed: true, arrayLength: null, dynamic: null, elementType: "int", elementSize: 4, isString: false, common: false }]);
    expect(compileFieldsDecoder(f, true)).toBeNull();
    const b = Uint8Array.of(7, 0, 0, 0);
    const fields = createFieldsDecoder(f, true)(new DataView(b.buffer), b, 0, 4);
    expect(Object.getOwnPropertyDescriptor(fields, "__proto__")?.value).toBe(7);
  });
});

describe("interned C strings", () => {
  const fresh = (b: Uint8Array, start: number, end: number) => {
    let e = start;
    while (e < end && b[e] !== 0) e++;
    return Buffer.from(b.subarray(start, e)).toString("utf8");
  };

  it("always equal a fresh decoding, whatever was looked up before (slot collisions, invalid UTF-8, NULs)", () => {
    // Few distinct byte values: many strings share prefixes, lengths and slots.
    const text = fc.uint8Array({ maxLength: 24 }).map((a) => a.map((x) => [0, 0x41, 0x42, 0xc3, 0xa9, 0xff, 0x2f][x % 7] as number));
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 200 }), (texts) => {
        for (const t of [...texts, ...texts.reverse()]) {
          expect(cString(t, 0, t.length)).toBe(fresh(t, 0, t.length));
          if (t.length > 2) expect(cString(t, 1, t.length - 1)).toBe(fresh(t, 1, t.length - 1));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("tells apart every string of up to 3 bytes over 24 byte values, looked up in an order where neighbours differ by one byte", () => {
    // 14,424 strings in 1,024 slots: many neighbours share a slot, which a lookup must not take for a match.
    const alphabet = [0x20, 0x2f, 0x30, 0x39, 0x41, 0x42, 0x43, 0x5a, 0x61, 0x62, 0x63, 0x7a, 0x7e, 0x7f, 0x80, 0xa9, 0xc3, 0xe2, 0xef, 0xf0, 0xfe, 0xff, 0x01, 0x0a];
    let checked = 0;
    for (let round = 0; round < 2; round++) {
      for (let len = 1; len <= 3; len++) {
        const b = new Uint8Array(len);
        const count = alphabet.length ** len;
        for (let i = 0; i < count; i++) {
          for (let k = 0, x = i; k < len; k++, x = Math.floor(x / alphabet.length)) b[len - 1 - k] = alphabet[x % alphabet.length] as number;
          const got = cString(b, 0, len);
          if (got !== fresh(b, 0, len)) expect(got, `bytes ${Buffer.from(b).toString("hex")}`).toBe(fresh(b, 0, len));
          checked++;
        }
      }
    }
    expect(checked).toBe(2 * (24 + 24 ** 2 + 24 ** 3));
  });

  it("returns the same string object for the same short bytes (what lets the writers' caches hit)", () => {
    const a = new TextEncoder().encode("sched-pipe\0\0\0\0\0\0");
    const b = Uint8Array.from(a);
    expect(cString(a, 0, 16)).toBe("sched-pipe");
    expect(Object.is(cString(a, 0, 16), cString(b, 0, 16))).toBe(true);
  });
});

describe("sortRuns", () => {
  it("sorts like the engine for any number of ascending runs (merged up to 64, sorted past that)", () => {
    const run = fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 40 }).map((a) => a.sort((x, y) => x - y));
    fc.assert(
      fc.property(fc.array(run, { maxLength: 80 }), (runs) => {
        // Distinct keys, as the reorder queue makes them (time, CPU, arrival packed together).
        const seen = new Set<number>();
        const keys = Float64Array.from(runs.flat().filter((x) => !seen.has(x) && (seen.add(x), true)));
        const want = Float64Array.from(keys).sort();
        expect(Array.from(sortRuns(keys))).toEqual(Array.from(want));
      }),
      { numRuns: 500 },
    );
  });
});
