import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { availability, native } from "../src/index.js";

// The BigInt references, written out here: this package imports nothing of clocksource.
const M64 = (1n << 64n) - 1n;
const forwardRef = (x: bigint, mult: bigint, shift: number, add: bigint): bigint => (((x * mult) >> BigInt(shift)) + add) & M64;
function inverseRef(y: bigint, mult: bigint, shift: number, add: bigint): bigint | undefined {
  const u = ((y - add) & M64) << BigInt(shift);
  if (u > M64 * mult) return undefined;
  return (u + mult - 1n) / mult;
}

const batch = native?.mulShiftAddBatch && native.mulShiftAddInverseBatch ? { fwd: native.mulShiftAddBatch, inv: native.mulShiftAddInverseBatch } : null;
if (!batch) console.warn(`skipping native batch tests: ${availability.available ? "the addon has no batch kernels (no 128-bit integers?)" : availability.reason}`);

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(0n, 1n, 2n, (1n << 32n) - 1n, 1n << 32n, (1n << 48n) - 1n, 1n << 48n, (1n << 63n) - 1n, 1n << 63n, M64 - 1n, M64),
);
const mults = fc.oneof(u64, fc.constantFrom(1n << 48n, (1n << 48n) + 4503599627n, 1n << 32n, (1n << 32n) - 1n));
const shifts = fc.oneof(fc.integer({ min: 0, max: 63 }), fc.constantFrom(0, 32, 48, 63));

describe.skipIf(!batch)("native batch kernels are bit-identical to the BigInt reference", () => {
  const { fwd, inv } = batch ?? { fwd: () => -1, inv: () => -1 };

  it("mulShiftAddBatch, random and edge values, apart and in place", () => {
    fc.assert(
      fc.property(fc.array(u64, { maxLength: 40 }), mults, shifts, u64, (values, mult, shift, add) => {
        const input = BigUint64Array.from(values);
        const out = new BigUint64Array(values.length + 2).fill(7n);
        fwd(input, out, mult, shift, add);
        const want = values.map((x) => forwardRef(x, mult, shift, add));
        expect([...out.subarray(0, values.length)]).toEqual(want);
        expect([...out.subarray(values.length)]).toEqual([7n, 7n]); // nothing written past the input's length
        fwd(input, input, mult, shift, add);
        expect([...input]).toEqual(want);
      }),
      { numRuns: 2000 },
    );
  });

  it("mulShiftAddInverseBatch: results, the first index without one, and such values left as they were", () => {
    fc.assert(
      fc.property(fc.array(u64, { maxLength: 40 }), mults.filter((m) => m > 0n), shifts, u64, (values, mult, shift, add) => {
        const want = values.map((y) => inverseRef(y, mult, shift, add));
        const firstBad = want.indexOf(undefined);
        const expected = want.map((r, i) => r ?? (values[i] as bigint));
        const input = BigUint64Array.from(values);
        const out = new BigUint64Array(values.length);
        expect(inv(input, out, mult, shift, add)).toBe(firstBad);
        expect([...out]).toEqual(expected);
        expect(inv(input, input, mult, shift, add)).toBe(firstBad);
        expect([...input]).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("the inverse's range check at its exact edge: mult·(2^64 − 1) has a result, one more does not", () => {
    for (const mult of [1n, 3n, (1n << 48n) + 4503599627n, M64]) {
      for (const shift of [0, 1, 48, 63]) {
        // The largest u with u·2^shift ≤ mult·(2^64 − 1), and u + 1; as input values with add = 0.
        const edge = (M64 * mult) >> BigInt(shift);
        const values = [edge, edge + 1n].filter((u) => u <= M64);
        const input = BigUint64Array.from(values);
        const out = new BigUint64Array(values.length);
        const bad = inv(input, out, mult, shift, 0n);
        const want = values.map((y) => inverseRef(y, mult, shift, 0n));
        expect(bad).toBe(want.indexOf(undefined));
        expect([...out]).toEqual(want.map((r, i) => r ?? (values[i] as bigint)));
      }
    }
  });

  it("KVM's map and its inverse round-trip on random host ticks (ratio 2^48 + 4503599627)", () => {
    const ratio = (1n << 48n) + 4503599627n;
    const offset = M64 - 123456789n;
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }), { minLength: 1, maxLength: 64 }), (host) => {
        const h = BigUint64Array.from(host);
        const g = new BigUint64Array(h.length);
        fwd(h, g, ratio, 48, offset);
        const back = new BigUint64Array(h.length);
        expect(inv(g, back, ratio, 48, offset)).toBe(-1);
        // The smallest host tick with that guest value: never after the original (the map is not injective below ratio 1).
        for (let i = 0; i < h.length; i++) {
          expect(back[i] as bigint).toBeLessThanOrEqual(h[i] as bigint);
          expect(forwardRef(back[i] as bigint, ratio, 48, offset)).toBe(g[i]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("empty arrays, and a long array crossing no chunk (one call does all)", () => {
    fwd(new BigUint64Array(0), new BigUint64Array(0), 5n, 1, 1n);
    expect(inv(new BigUint64Array(0), new BigUint64Array(0), 5n, 1, 1n)).toBe(-1);
    const n = 200_003;
    const a = new BigUint64Array(n);
    for (let i = 0; i < n; i++) a[i] = BigInt(i) * 0x9e3779b97f4a7c15n & M64;
    const out = new BigUint64Array(n);
    fwd(a, out, (1n << 48n) + 4503599627n, 48, 99n);
    for (const i of [0, 1, 65_535, 65_536, n - 1]) expect(out[i]).toBe(forwardRef(a[i] as bigint, (1n << 48n) + 4503599627n, 48, 99n));
  });

  it("refuses wrong arguments with a typed error, never a crash", () => {
    const a = new BigUint64Array(4);
    expect(() => fwd(a, new BigUint64Array(3), 1n, 0, 0n)).toThrow(TypeError);
    expect(() => fwd(new Float64Array(4) as unknown as BigUint64Array, a, 1n, 0, 0n)).toThrow(TypeError);
    expect(() => fwd(new BigInt64Array(4) as unknown as BigUint64Array, a, 1n, 0, 0n)).toThrow(TypeError);
    expect(() => fwd(a, a, -1n, 0, 0n)).toThrow(RangeError);
    expect(() => fwd(a, a, 1n << 64n, 0, 0n)).toThrow(RangeError);
    expect(() => fwd(a, a, 1n, 0, -1n)).toThrow(RangeError);
    // A shift is an integer in 0..63, never some number Node-API would make of it.
    for (const shift of [64, -1, 1.5, Number.NaN, Infinity, 2 ** 32 + 3, "3"]) expect(() => fwd(a, a, 1n, shift as number, 0n), String(shift)).toThrow("shift must be an integer in 0..63");
    expect(() => inv(a, a, 0n, 0, 0n)).toThrow("mult must be at least 1");
    expect(() => (fwd as unknown as (...a: unknown[]) => void)(a, a)).toThrow(TypeError);
    expect(fwd(a, a, 1n, 0, 0n)).toBe(-1);
  });

  it("an output over the input's memory at another offset: -2 and nothing converted, whichever buffer objects hold it", () => {
    const big = BigUint64Array.from([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(fwd(big.subarray(0, 4), big.subarray(2, 6), 3n, 0, 0n)).toBe(-2);
    expect(inv(big.subarray(2, 6), big.subarray(0, 4), 3n, 0, 0n)).toBe(-2);
    expect([...big]).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(fwd(big.subarray(0, 4), big.subarray(4, 8), 3n, 0, 0n)).toBe(-1); // adjacent is apart
    expect([...big]).toEqual([1n, 2n, 3n, 4n, 3n, 6n, 9n, 12n]);
    // Two SharedArrayBuffer objects over one memory: the same memory, by address.
    const sab = new SharedArrayBuffer(64);
    const twin = structuredClone(sab);
    expect(twin).not.toBe(sab);
    const x = new BigUint64Array(sab);
    x.set([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(fwd(x.subarray(0, 4), new BigUint64Array(twin, 8, 4), 3n, 0, 0n)).toBe(-2);
    expect(fwd(x.subarray(0, 4), new BigUint64Array(twin, 0, 4), 3n, 0, 0n)).toBe(-1); // in place, through the twin
    expect([...x]).toEqual([3n, 6n, 9n, 12n, 5n, 6n, 7n, 8n]);
  });
});
