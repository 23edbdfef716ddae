import { ClocksourceError } from "../errors.js";

const PLAIN_DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/;

/**
 * Parses a plain non-negative decimal (`2400.113`, `19.20`, `48`) scaled by
 * 10^`scaleDigits`, exactly and without floating point: `("2400.113", 6)` is
 * `2400113000n` (MHz → Hz), `("38.40", 2)` is `3840n` (hundredths).
 *
 * Returns null when the text is not digits with an optional `.digits`
 * (no sign, exponent, spaces or bare dot), or when its value is finer than the
 * scale (a non-zero digit past `scaleDigits` decimals): the result is exact or
 * there is none. Trailing zeros past the scale are fine.
 * @throws ClocksourceError `INVALID_ARGUMENT` unless `scaleDigits` is a non-negative safe integer
 */
export function parseDecimalScaled(text: string, scaleDigits: number): bigint | null {
  if (!Number.isSafeInteger(scaleDigits) || scaleDigits < 0) throw new ClocksourceError("INVALID_ARGUMENT", `scaleDigits must be a non-negative integer, got ${scaleDigits}`);
  const m = PLAIN_DECIMAL.exec(text);
  if (!m) return null;
  const whole = m[1] as string;
  const frac = m[2] ?? "";
  const kept = frac.slice(0, scaleDigits);
  if (/[1-9]/.test(frac.slice(scaleDigits))) return null;
  return BigInt(whole) * 10n ** BigInt(scaleDigits) + BigInt(kept.padEnd(scaleDigits, "0") || "0");
}
