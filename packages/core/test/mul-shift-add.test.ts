import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mulShiftAdd, mulShiftAddBatch, U64_MAX } from "../src/index.js";

const EDGE = [0n, 1n, 2n, 0xffff_ffffn, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, U64_MAX - 1n, U64_MAX];
const MULTS = [0n, 1n, 1n << 32n, 1n << 48n, 0xff_ffff_ffffn, 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0001n];

describe("mulShiftAdd batch (WebAssembly) is bit-identical to the BigInt reference", () => {
  it("on edge values for every shift", () => {
    const input = BigUint64Array.from(Array.from({ length: 8 }, () => EDGE).flat());
    for (const mult of MULTS) {
      for (const add of [0n, 1n, U64_MAX, 1n << 63n]) {
        for (let shift = 0; shift <= 63; shift++) {
          const out = mulShiftAddBatch(input, mult, shift, add, new BigUint64Array(input.length));
          input.forEach((x, i) => expect(out[i]).toBe(BigInt.asUintN(64, ((x * mult) >> BigInt(shift)) + add)));
        }
      }
    }
  });

  it("on random values", () => {
    const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
    fc.assert(
      fc.property(fc.array(u64, { minLength: 1, maxLength: 100 }), u64, fc.integer({ min: 0, max: 63 }), u64, (xs, mult, shift, add) => {
        const out = mulShiftAddBatch(BigUint64Array.from(xs), mult, shift, add, new BigUint64Array(xs.length));
        xs.forEach((x, i) => expect(out[i]).toBe(mulShiftAdd(x, mult, shift, add)));
      }),
      { numRuns: 500 },
    );
  });

  it("rejects out-of-range parameters", () => {
    expect(() => mulShiftAddBatch(new BigUint64Array(1), -1n, 0, 0n)).toThrow(/mult/);
    expect(() => mulShiftAddBatch(new BigUint64Array(1), 1n, 64, 0n)).toThrow(/shift/);
  });
});
