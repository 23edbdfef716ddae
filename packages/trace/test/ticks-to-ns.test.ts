import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ticksToNanoseconds } from "../src/merge/ticks-to-ns.js";

const U64_MAX = (1n << 64n) - 1n;

describe("ticksToNanoseconds", () => {
  it("is floor(ticks × 10^9 / hz) for every u64 and rate: the double path where it applies, BigInt beyond (property)", () => {
    const hz = fc.oneof(
      fc.constantFrom(1n, 3n, 7n, 1_000_000_000n, 2_000_000_000n, 2_400_000_000n, 2_918_398_000n, 19_200_000n, 24_000_000n, 1_000_000_007n, 999_999_999_989n, (1n << 63n) - 25n),
      fc.bigInt({ min: 1n, max: 1n << 40n }),
      fc.bigInt({ min: 1n, max: U64_MAX }),
    );
    const ticks = fc.oneof(
      fc.bigInt({ min: 0n, max: U64_MAX }),
      fc.bigInt({ min: 0n, max: 1n << 54n }),
      fc.bigInt({ min: 0n, max: 1n << 45n }),
      fc.constantFrom(0n, 1n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, U64_MAX, 9_007_199_254_740_991n / 5n, 9_007_199_254_740_991n / 5n + 1n),
    );
    fc.assert(
      fc.property(hz, fc.array(ticks, { minLength: 1, maxLength: 20 }), (f, ts) => {
        const conv = ticksToNanoseconds(f);
        for (const t of ts) expect(conv(t)).toBe((t * 1_000_000_000n) / f);
      }),
      { numRuns: 3000 },
    );
  });

  it("just below and above each integer quotient at 2^53 - 1 (where rounding could bite)", () => {
    for (const f of [3n, 7n, 12n, 2_400_000_000n, 1_000_000_007n]) {
      const conv = ticksToNanoseconds(f);
      for (let k = 0n; k < 2000n; k++) {
        const t = (1n << 53n) / 1_000_000_000n - k;
        for (const x of [t, t * 1_000_000_000n, (1n << 53n) - 1n - k]) if (x >= 0n) expect(conv(x)).toBe((x * 1_000_000_000n) / f);
      }
    }
  });

  it("refuses a rate that is not positive", () => {
    expect(() => ticksToNanoseconds(0n)).toThrow(RangeError);
  });
});
