import { ClocksourceError } from "../errors.js";
import { U64_MAX, assertU64, wrapU64 } from "./u64.js";

/**
 * A fixed-point scale factor: `out = (in × mult) >> shift`. This is how the
 * Linux clocksource framework turns counter ticks into nanoseconds.
 */
export interface MultShift {
  /** Multiplier, an unsigned 32-bit integer. */
  readonly mult: number;
  /** Right shift, 0..32. */
  readonly shift: number;
}

const U32_MAX = 0xffff_ffffn;

/**
 * Chooses `mult`/`shift` to convert from a clock running at `fromHz` to one at
 * `toHz` (for ticks → ns: `toHz = 1e9`), as the kernel's
 * `clocks_calc_mult_shift()` does: the largest shift (best precision) for which
 * `maxSeconds × fromHz` ticks still fit in 64 bits after the multiplication.
 *
 * Kernel semantics kept on purpose: the conversion range is first reduced
 * until `(maxSeconds × fromHz) >> 32` fits the accuracy budget, then the shift
 * is walked down from 32 until `mult` fits. `mult` is rounded to nearest.
 *
 * @param fromHz source frequency in Hz (positive integer ≤ 2^32 − 1 as in the kernel's u32)
 * @param toHz target frequency in Hz (positive integer ≤ 2^32 − 1)
 * @param maxSeconds the longest interval (s) that must convert without overflow
 */
export function calcMultShift(fromHz: number, toHz: number, maxSeconds: number): MultShift {
  for (const [name, v] of [["fromHz", fromHz], ["toHz", toHz]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0 || v > 0xffff_ffff) {
      throw new ClocksourceError("INVALID_ARGUMENT", `${name} must be an integer in 1..2^32-1, got ${v}`);
    }
  }
  if (!Number.isSafeInteger(maxSeconds) || maxSeconds < 0 || maxSeconds > 0xffff_ffff) {
    throw new ClocksourceError("INVALID_ARGUMENT", `maxSeconds must be an integer in 0..2^32-1, got ${maxSeconds}`);
  }
  const from = BigInt(fromHz);
  const to = BigInt(toHz);
  // How many bits the longest tick count needs beyond 32: those bits are lost
  // from the accuracy budget of the multiplier.
  let tmp = wrapU64(BigInt(maxSeconds) * from) >> 32n;
  let accuracyBits = 32n;
  while (tmp !== 0n) {
    tmp >>= 1n;
    accuracyBits--;
  }
  let shift = 32n;
  let mult = 0n;
  // When no shift ≥ 1 fits, the kernel leaves shift = 0 with the multiplier
  // computed for shift 1 (truncated to 32 bits); we keep that behaviour so our
  // results match the kernel's bit for bit.
  for (; shift > 0n; shift--) {
    mult = (wrapU64(to << shift) + from / 2n) / from;
    if (mult >> accuracyBits === 0n) break;
  }
  return { mult: Number(mult & U32_MAX), shift: Number(shift) };
}

/**
 * Reference conversion `floor(ticks × mult / 2^shift)`, exact in BigInt and
 * reduced mod 2^64 (a result can only exceed 2^64 − 1 when `shift` is small
 * and `ticks` huge). This is the semantics every fast path must match.
 */
export function scaleTicksReference(ticks: bigint, ms: MultShift): bigint {
  assertU64(ticks, "ticks");
  return wrapU64((ticks * BigInt(ms.mult)) >> BigInt(ms.shift));
}

/**
 * The split form used by perf's `tsc_to_perf_time()`: with
 * `q = ticks >> shift` and `r = ticks mod 2^shift`,
 * `q × mult + ((r × mult) >> shift)` equals the full-precision product
 * shifted, and its intermediate `r × mult` never needs more than 64 bits.
 * Exposed because C and kernel code use it; equal to {@link scaleTicksReference}.
 */
export function scaleTicksSplit(ticks: bigint, ms: MultShift): bigint {
  assertU64(ticks, "ticks");
  const shift = BigInt(ms.shift);
  const mult = BigInt(ms.mult);
  const q = ticks >> shift;
  const r = ticks & ((1n << shift) - 1n);
  return wrapU64(q * mult + ((r * mult) >> shift));
}

/** Validates a {@link MultShift} (mult a u32, shift 0..63). */
export function assertMultShift(ms: MultShift): MultShift {
  if (!Number.isInteger(ms.mult) || ms.mult < 0 || ms.mult > 0xffff_ffff) {
    throw new ClocksourceError("INVALID_ARGUMENT", `mult must be a u32, got ${ms.mult}`);
  }
  if (!Number.isInteger(ms.shift) || ms.shift < 0 || ms.shift > 63) {
    throw new ClocksourceError("INVALID_ARGUMENT", `shift must be in 0..63, got ${ms.shift}`);
  }
  return ms;
}

export { U64_MAX };
