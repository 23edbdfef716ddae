import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { calcMultShift, scaleTicksBatch, scaleTicksReference, scaleTicksSplit, U64_MAX } from "../src/index.js";

const EDGE_TICKS = [0n, 1n, 2n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, U64_MAX - 1n, U64_MAX];
const EDGE_MULT = [0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

describe("calcMultShift", () => {
  it("matches the kernel's results for well-known frequencies", () => {
    // Values computed by hand from clocks_calc_mult_shift(from, NSEC_PER_SEC, 600):
    // 1 GHz -> mult 2^24? no: the loop stops at the first shift whose mult fits.
    const oneGHz = calcMultShift(1_000_000_000, 1_000_000_000, 600);
    expect(Number(scaleTicksReference(1_000_000_000n, oneGHz))).toBe(1_000_000_000);
    const tsc = calcMultShift(2_599_998_000, 1_000_000_000, 600);
    // 600 s of ticks must not overflow 64 bits after multiplying.
    expect(BigInt(600 * 2_599_998_000) * BigInt(tsc.mult) < 1n << 64n).toBe(true);
  });
});

describe("ticks → ns fast paths are bit-identical to the BigInt reference", () => {
  it("on edge values", () => {
    for (const mult of EDGE_MULT) {
      for (let shift = 0; shift <= 63; shift++) {
        const ms = { mult, shift };
        const input = BigUint64Array.from(EDGE_TICKS);
        const out = scaleTicksBatch(input, ms, new BigUint64Array(input.length));
        EDGE_TICKS.forEach((t, i) => {
          const ref = scaleTicksReference(t, ms);
          expect(out[i]).toBe(ref);
          expect(scaleTicksSplit(t, ms)).toBe(ref);
        });
      }
    }
  });

  it("on random values", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: U64_MAX }), { minLength: 1, maxLength: 64 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 63 }), (ticks, mult, shift) => {
        const ms = { mult, shift };
        const out = scaleTicksBatch(BigUint64Array.from(ticks), ms, new BigUint64Array(ticks.length));
        ticks.forEach((t, i) => {
          expect(out[i]).toBe(scaleTicksReference(t, ms));
          expect(scaleTicksSplit(t, ms)).toBe(scaleTicksReference(t, ms));
        });
      }),
      { numRuns: 500 },
    );
  });
});
