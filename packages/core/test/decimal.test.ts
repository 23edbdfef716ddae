import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isClocksourceError, parseDecimalScaled } from "../src/index.js";

const scale = fc.integer({ min: 0, max: 12 });
const value = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 80n) - 1n }), fc.constantFrom(0n, 1n, 9n, 10n, 999_999n, 1_000_000n, (1n << 64n) - 1n));

/** The decimal text of `v / 10^s`, built digit by digit (no parsing involved). */
function render(v: bigint, s: number, dropTrailingZeros: boolean, extraZeros: number): string {
  const digits = v.toString().padStart(s + 1, "0");
  const whole = digits.slice(0, digits.length - s);
  let frac = digits.slice(digits.length - s);
  if (dropTrailingZeros) frac = frac.replace(/0+$/, "");
  frac += "0".repeat(extraZeros);
  return frac === "" ? whole : `${whole}.${frac}`;
}

describe("parseDecimalScaled", () => {
  it("is exact: the text of v / 10^s parses back to v, however the fraction is written", () => {
    fc.assert(
      fc.property(value, scale, fc.boolean(), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }), (v, s, drop, extra, leadingZeros) => {
        const text = "0".repeat(leadingZeros) + render(v, s, drop, extra);
        expect(parseDecimalScaled(text, s)).toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it("returns null when the value is finer than the scale (a non-zero digit past it)", () => {
    fc.assert(
      fc.property(value, scale, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 3 }), (v, s, digit, zeros) => {
        const exact = render(v, s, false, 0);
        const text = `${exact}${s === 0 ? "." : ""}${"0".repeat(zeros)}${digit}`;
        expect(parseDecimalScaled(text, s)).toBeNull();
      }),
    );
  });

  it("returns null for anything but digits with an optional .digits", () => {
    for (const bad of ["", ".", "1.", ".5", "-1", "+1", "1e3", " 1", "1 ", "1.2.3", "0x10", "１", "1_000", "NaN", "Infinity"]) {
      expect(parseDecimalScaled(bad, 3), JSON.stringify(bad)).toBeNull();
    }
    fc.assert(
      fc.property(fc.string(), scale, (text, s) => {
        fc.pre(!/^[0-9]+(\.[0-9]+)?$/.test(text));
        expect(parseDecimalScaled(text, s)).toBeNull();
      }),
    );
  });

  it("scales the figures the kernel prints", () => {
    expect(parseDecimalScaled("2400.113", 6)).toBe(2_400_113_000n);
    expect(parseDecimalScaled("19.20", 6)).toBe(19_200_000n);
    expect(parseDecimalScaled("38.40", 2)).toBe(3840n);
    expect(parseDecimalScaled("48", 2)).toBe(4800n);
    expect(parseDecimalScaled("4.0000000000000001", 0)).toBeNull();
    expect(parseDecimalScaled("18446744073709551616", 0)).toBe(1n << 64n);
  });

  it("rejects a scale that is not a non-negative integer", () => {
    for (const s of [-1, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        parseDecimalScaled("1", s);
      } catch (e) {
        err = e;
      }
      expect(isClocksourceError(err, "INVALID_ARGUMENT"), String(s)).toBe(true);
    }
  });
});
