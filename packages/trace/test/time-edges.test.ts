import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mulShiftAdd, U64_MAX } from "@clocksource/core";
import { multShiftEdges, offsetEdges } from "../src/index.js";

function one(edge: ReturnType<typeof multShiftEdges>[number], v: bigint): bigint | undefined {
  const a = new BigUint64Array([v]);
  const st = new Int32Array(1);
  edge.converter(0).convert(a, a, st, 1);
  return (st[0] as number) < 0 ? undefined : (a[0] as bigint);
}

describe("perf TIME_CONV / trace-cmd TSC2NSEC edges", () => {
  it("forward is ((tsc × mult) >> shift) + zero exactly; inverse is the smallest tsc whose image is ≥ the time", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffff_ffff }), fc.integer({ min: 0, max: 40 }), fc.bigInt({ min: 0n, max: 1n << 62n }), fc.bigInt({ min: 0n, max: 1n << 56n }), (mult, shift, zero, tsc) => {
        const [fwd, inv] = multShiftEdges("m.tsc", "m.local", mult, shift, zero, "test");
        const exact = ((tsc * BigInt(mult)) >> BigInt(shift)) + zero;
        const t = one(fwd, tsc);
        if (exact > U64_MAX) {
          expect(t, "a time past 2^64 - 1 is outside, never wrapped").toBeUndefined();
          return;
        }
        expect(t).toBe(exact);
        expect(t).toBe(mulShiftAdd(tsc, BigInt(mult), shift, zero));
        const back = one(inv, t as bigint);
        expect(back).toBeDefined();
        expect((back as bigint) <= tsc).toBe(true);
        expect(one(fwd, back as bigint)).toBe(t);
        if ((back as bigint) > 0n) expect((one(fwd, (back as bigint) - 1n) as bigint) < (t as bigint)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("a time before the conversion's zero maps to tick 0; one beyond every tick's image is outside", () => {
    // Half a ns per tick from 1000 ns: the last tick's time is 2^63 + 999.
    const [, inv] = multShiftEdges("m.tsc", "m.local", 1, 1, 1_000n, "test");
    expect(one(inv, 10n)).toBe(0n);
    expect(one(inv, U64_MAX)).toBeUndefined();
    expect(() => multShiftEdges("m.tsc", "m.local", 0, 1, 0n, "file")).toThrow(/unusable conversion/);
  });

  it("declared offsets wrap mod 2^64 both ways", () => {
    const [fwd, inv] = offsetEdges("a.x", "b.x", -5n, "test");
    expect(one(fwd, 3n)).toBe(U64_MAX - 1n);
    expect(one(inv, U64_MAX - 1n)).toBe(3n);
  });
});
