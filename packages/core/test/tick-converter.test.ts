import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { calcMultShift, nanosecondConverter, scaleTicksReference, U64_MAX } from "../src/index.js";

describe("nanosecondConverter", () => {
  it("uses the kernel's mult/shift up to 2^32 − 1 Hz, 1:1 at 1 GHz", () => {
    const c = nanosecondConverter(24_000_000);
    expect(c.scale).toEqual(calcMultShift(24_000_000, 1e9, 600));
    expect(c.toNanoseconds(24_000_000n)).toBe(scaleTicksReference(24_000_000n, c.scale!));
    expect(nanosecondConverter(1_000_000_000).toNanoseconds(U64_MAX)).toBe(U64_MAX);
  });

  it("divides exactly above 2^32 − 1 Hz (fast TSCs)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0x1_0000_0000n, max: 10n ** 11n }), fc.bigInt({ min: 0n, max: U64_MAX }), (hz, ticks) => {
        const c = nanosecondConverter(hz);
        expect(c.scale).toBeNull();
        expect(c.toNanoseconds(ticks)).toBe((ticks * 10n ** 9n) / hz);
      }),
    );
    expect(nanosecondConverter(5_000_000_000n).toNanoseconds(5_000_000_000n)).toBe(1_000_000_000n);
  });

  it("rejects frequencies that are not positive whole numbers", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 0n]) expect(() => nanosecondConverter(bad)).toThrow(/frequency/);
  });
});
