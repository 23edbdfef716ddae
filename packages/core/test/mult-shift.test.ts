import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { calcMultShift, scaleTicksBatch, scaleTicksBatchJs, scaleTicksReference, scaleTicksSplit, u64Kernels, U64_MAX } from "../src/index.js";

const EDGE_TICKS = [0n, 1n, 2n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, U64_MAX - 1n, U64_MAX];
const EDGE_MULT = [0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

describe("calcMultShift", () => {
  it("gives the kernel's mult/shift for known frequencies", () => {
    // Worked by hand from clocks_calc_mult_shift(from, NSEC_PER_SEC, 600):
    // 1 GHz: (600 × 1e9) >> 32 = 139 needs 8 bits, so mult must fit 24 bits → 2^23 / 2^23.
    expect(calcMultShift(1_000_000_000, 1_000_000_000, 600)).toEqual({ mult: 8_388_608, shift: 23 });
    // 24 MHz: 600 × 24e6 >> 32 = 3 needs 2 bits → mult < 2^30 → shift 24, mult = round(1e9 × 2^24 / 24e6).
    expect(calcMultShift(24_000_000, 1_000_000_000, 600)).toEqual({ mult: 699_050_667, shift: 24 });
  });

  it("never overflows 64 bits within the requested range, and is accurate to the shift", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 0xffff_ffff }), fc.integer({ min: 1, max: 3600 }), (hz, maxSeconds) => {
        const { mult, shift } = calcMultShift(hz, 1_000_000_000, maxSeconds);
        const maxTicks = BigInt(hz) * BigInt(maxSeconds);
        const accuracyBits = 32 - Math.max(0, (maxTicks >> 32n).toString(2).length - (maxTicks >> 32n === 0n ? 1 : 0));
        expect(BigInt(mult) < 1n << BigInt(accuracyBits) || shift === 0).toBe(true);
        // mult / 2^shift approximates 1e9 / hz within half a unit of the last place.
        const exact = (1_000_000_000n << BigInt(shift)) * 2n;
        expect(BigInt(mult) * 2n * BigInt(hz) - exact <= BigInt(hz) && exact - BigInt(mult) * 2n * BigInt(hz) <= BigInt(hz)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects frequencies outside the kernel's u32 range", () => {
    expect(() => calcMultShift(0, 1e9, 600)).toThrow(/fromHz/);
    expect(() => calcMultShift(2 ** 32, 1e9, 600)).toThrow(/fromHz/);
    expect(() => calcMultShift(1e6, 1e9, -1)).toThrow(/maxSeconds/);
  });
});

describe("ticks → ns fast paths are bit-identical to the BigInt reference", () => {
  it("on edge values", () => {
    for (const mult of EDGE_MULT) {
      for (let shift = 0; shift <= 63; shift++) {
        const ms = { mult, shift };
        // 8 copies: long enough for the WebAssembly kernel, which short arrays skip.
        const ticks = Array.from({ length: 8 }, () => EDGE_TICKS).flat();
        const input = BigUint64Array.from(ticks);
        const out = scaleTicksBatch(input, ms, new BigUint64Array(input.length));
        const outJs = scaleTicksBatchJs(input, ms, new BigUint64Array(input.length));
        ticks.forEach((t, i) => {
          const ref = scaleTicksReference(t, ms);
          expect(out[i]).toBe(ref);
          expect(outJs[i]).toBe(ref);
          expect(scaleTicksSplit(t, ms)).toBe(ref);
        });
      }
    }
  });

  it("on random values", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: U64_MAX }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 63 }), (ticks, mult, shift) => {
        const ms = { mult, shift };
        const out = scaleTicksBatch(BigUint64Array.from(ticks), ms, new BigUint64Array(ticks.length));
        const outJs = scaleTicksBatchJs(BigUint64Array.from(ticks), ms, new BigUint64Array(ticks.length));
        ticks.forEach((t, i) => {
          expect(out[i]).toBe(scaleTicksReference(t, ms));
          expect(outJs[i]).toBe(scaleTicksReference(t, ms));
          expect(scaleTicksSplit(t, ms)).toBe(scaleTicksReference(t, ms));
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe("the WebAssembly kernel", () => {
  it("is available on this Node (else the JS path is used, and said here)", () => {
    expect(u64Kernels()).not.toBeNull();
  });

  it("converts arrays longer than one chunk, in place, at any offset", () => {
    const n = 65536 * 2 + 17;
    const backing = new BigUint64Array(n + 3);
    for (let i = 0; i < backing.length; i++) backing[i] = BigInt.asUintN(64, BigInt(i) * 0x9e3779b97f4a7c15n);
    const view = backing.subarray(3);
    const expected = Array.from(view, (t) => scaleTicksReference(t, { mult: 0x89abcdef, shift: 29 }));
    scaleTicksBatch(view, { mult: 0x89abcdef, shift: 29 });
    expect(Array.from(view)).toEqual(expected);
  });
});
