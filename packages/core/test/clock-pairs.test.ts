import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { clockPairsForward, clockPairsInverse, fitClockPairs, U64_MAX, withinRange, type ClockPairsParams } from "../src/index.js";

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const params = fc.record({
  fromRef: u64,
  toRef: u64,
  num: fc.bigInt({ min: 1n, max: 1n << 40n }),
  den: fc.bigInt({ min: 1n, max: 1n << 40n }),
});


describe("clock-pairs mappings", () => {
  it("forward is the floor of the exact line; inverse is the smallest preimage", () => {
    fc.assert(
      fc.property(params, u64, (p: ClockPairsParams, x) => {
        const y = withinRange(() => clockPairsForward(p, x));
        if (y === undefined) return;
        // Floor of the line, by the defining inequality: (y - toRef)·den ≤ (x - fromRef)·num < (y - toRef + 1)·den.
        const lhs = (x - p.fromRef) * p.num;
        expect((y - p.toRef) * p.den <= lhs && lhs < (y - p.toRef + 1n) * p.den).toBe(true);
        const back = withinRange(() => clockPairsInverse(p, y));
        expect(back).toBeDefined();
        expect((back as bigint) <= x).toBe(true);
        expect(clockPairsForward(p, back as bigint)).toBe(y);
        if ((back as bigint) > 0n) expect(withinRange(() => clockPairsForward(p, (back as bigint) - 1n)) ?? -1n).toBeLessThan(y);
      }),
      { numRuns: 2000 },
    );
  });

  it("fits a line whose bound covers every kept pair's read window, dropping interrupted reads", () => {
    // A 2.5 GHz counter against ns, read windows of 40 ticks, one read interrupted for 10 µs.
    const pairs = Array.from({ length: 100 }, (_, i) => {
      const before = 1_000_000n + BigInt(i) * 2_500_000n;
      const slow = i === 50 ? 25_000n : 0n;
      return { before, after: before + 40n + slow, clock: 7_000_000n + BigInt(i) * 1_000_000n + 8n };
    });
    const fit = fitClockPairs(pairs);
    expect(fit.kept).toBe(99);
    expect(Number(fit.params.den) / Number(fit.params.num)).toBeCloseTo(2.5, 9);
    for (const p of pairs.filter((_, i) => i !== 50)) {
      const lo = clockPairsForward(fit.params, p.before);
      const hi = clockPairsForward(fit.params, p.after);
      expect(p.clock >= lo - fit.errorBound && p.clock <= hi + fit.errorBound).toBe(true);
    }
    expect(fit.errorBound).toBeLessThan(30n);
    expect(() => fitClockPairs(pairs.slice(0, 1))).toThrow(/two or more pairs/);
  });
});
