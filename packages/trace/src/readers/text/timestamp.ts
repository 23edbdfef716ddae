import { U64_MAX } from "@clocksource/core";

const NS_PER_S = 1_000_000_000n;
/** Below this many seconds, `s × 10^9 + frac` stays under 2^53: Number arithmetic is exact. */
const SAFE_SECONDS = 9_007_199;

/**
 * `seconds.fraction` as printed by ftrace and perf, to an integer count of
 * 10^-9 units, exactly (never through a float): `599.702526` → 599702526000n.
 * A fraction of up to 9 digits is scaled up; returns null for more than 9
 * fraction digits or a value above 2^64-1.
 */
export function decimalSecondsToNs(whole: string, frac: string): bigint | null {
  if (frac.length > 9 || frac.length === 0) return null;
  const scaled = frac.length === 9 ? frac : frac + "000000000".slice(frac.length);
  let v: bigint;
  if (whole.length <= 7 && Number(whole) < SAFE_SECONDS) {
    v = BigInt(Number(whole) * 1e9 + Number(scaled));
  } else {
    v = BigInt(whole) * NS_PER_S + BigInt(scaled);
  }
  return v <= U64_MAX ? v : null;
}

/** A run of decimal digits as a u64, or null when it is above 2^64-1. */
export function digitsToU64(digits: string): bigint | null {
  if (digits.length <= 15) return BigInt(Number(digits));
  const v = BigInt(digits);
  return v <= U64_MAX ? v : null;
}
