import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mulU32Wide, shiftedWord } from "../src/index.js";

describe("32-bit limb helpers", () => {
  it("mulU32Wide is the exact 64-bit product", () => {
    const out = [0, 0];
    const check = (x: number, y: number) => {
      mulU32Wide(x, y, out);
      expect((BigInt(out[0]!) << 32n) | BigInt(out[1]!)).toBe(BigInt(x) * BigInt(y));
    };
    for (const x of [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff]) for (const y of [0, 1, 0xffff, 0x10000, 0x80000000, 0xffffffff]) check(x, y);
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (x, y) => check(x, y)), { numRuns: 2000 });
  });

  it("shiftedWord extracts words of a right-shifted multi-word integer", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 4 }), fc.nat({ max: 127 }), (words, shift) => {
        const value = words.reduce((acc, w, i) => acc | (BigInt(w) << BigInt(32 * i)), 0n) >> BigInt(shift);
        for (let k = 0; k < words.length; k++) expect(BigInt(shiftedWord(words, shift, k))).toBe((value >> BigInt(32 * k)) & 0xffffffffn);
      }),
      { numRuns: 1000 },
    );
  });
});
