import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { instantiateWasm, mulShiftAdd, mulShiftAddBatch, mulShiftAddInverse, mulShiftAddInverseBatch, U64_MAX } from "../src/index.js";
import { mulShiftAddOpFunction, mulShiftAddSimdFunction } from "../src/math/wasm-map-kernels.js";

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

describe("mulShiftAdd kernels: the SIMD one (two values per step) and the scalar one agree with the reference", () => {
  const kernels = instantiateWasm<{ memory: { buffer: ArrayBuffer }; mulShiftAddAll(ptr: number, n: number, st: number, e: number, f: number, m: bigint, s: bigint, a: bigint): number }>;
  const simd = kernels([mulShiftAddSimdFunction()], 2);
  const scalar = kernels([mulShiftAddOpFunction(false)], 2);
  if (!simd.ok) console.log(`SIMD kernel not compared: ${simd.reason}`);
  it.each([["scalar", scalar], ["SIMD", simd]] as const)("%s, every length 0..9 and random inputs", (_name, k) => {
    if (!k.ok) return;
    const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
    fc.assert(
      fc.property(fc.array(fc.oneof(u64, fc.constantFrom(...EDGE)), { maxLength: 9 }), fc.oneof(u64, fc.constantFrom(...MULTS)), fc.integer({ min: 0, max: 63 }), u64, (xs, mult, shift, add) => {
        const mem = new BigUint64Array(k.exports.memory.buffer, 0, 16);
        mem.fill(0x5a5a5a5a5a5a5a5an);
        mem.set(xs);
        expect(k.exports.mulShiftAddAll(0, xs.length, 8 * 12, 0, -1, BigInt.asIntN(64, mult), BigInt(shift), BigInt.asIntN(64, add))).toBe(0);
        xs.forEach((x, i) => expect(mem[i]).toBe(mulShiftAdd(x, mult, shift, add)));
        // nothing past the n values is touched
        expect(mem[xs.length]).toBe(0x5a5a5a5a5a5a5a5an);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("mulShiftAddInverse batch (reciprocal division kernel) is bit-identical to the BigInt reference", () => {
  const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
  const mult = fc.oneof(fc.constantFrom(1n, 2n, 3n, 1n << 32n, (1n << 32n) - 1n, (1n << 32n) + 1n, 1n << 48n, (1n << 48n) + 4_503_599_627n, 1n << 63n, U64_MAX, U64_MAX - 1n), fc.bigInt({ min: 1n, max: U64_MAX }), fc.bigInt({ min: 1n, max: 1n << 20n }));
  it("including the values without a preimage (left unchanged) and the index of the first", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(u64, fc.constantFrom(...EDGE)), { minLength: 1, maxLength: 40 }), mult, fc.integer({ min: 0, max: 63 }), fc.oneof(u64, fc.constantFrom(0n, 1n, U64_MAX)), (ys, m, shift, add) => {
        const out = new BigUint64Array(ys.length);
        const first = mulShiftAddInverseBatch(BigUint64Array.from(ys), m, shift, add, out);
        const ref = ys.map((y) => mulShiftAddInverse(y, m, shift, add));
        expect(first).toBe(ref.findIndex((r) => r === undefined));
        ys.forEach((y, i) => expect(out[i]).toBe(ref[i] ?? y));
      }),
      { numRuns: 5000 },
    );
  });
});
