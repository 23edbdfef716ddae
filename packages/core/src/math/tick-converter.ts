import { nanosecondScale } from "../clock-source.js";
import { ClocksourceError } from "../errors.js";
import { scaleTicksReference, type MultShift } from "./mult-shift.js";
import { assertU64 } from "./u64.js";

/** Ticks → nanoseconds for one counter frequency, exactly as documented below. */
export interface TickConverter {
  readonly frequencyHz: bigint;
  /** The kernel-style mult/shift in use, or null when the conversion is an exact division. */
  readonly scale: MultShift | null;
  toNanoseconds(ticks: bigint): bigint;
}

/**
 * The ticks → ns conversion every clock source uses. For a frequency that fits
 * the kernel's 32-bit input (≤ 4 294 967 295 Hz) it is the kernel's
 * mult/shift (`clocks_calc_mult_shift` over 600 s; exactly 1:1 at 1 GHz), so
 * our nanoseconds agree with a kernel clocksource's; above that (fast TSCs)
 * it is the exact `floor(ticks × 10^9 / hz)`.
 * @throws ClocksourceError `INVALID_ARGUMENT` unless `hz` is a positive integer
 */
export function nanosecondConverter(hz: number | bigint): TickConverter {
  if (typeof hz === "number" && !Number.isSafeInteger(hz)) throw new ClocksourceError("INVALID_ARGUMENT", `frequency must be a whole number of Hz, got ${hz}`);
  const f = BigInt(hz);
  if (f <= 0n) throw new ClocksourceError("INVALID_ARGUMENT", `frequency must be positive, got ${f} Hz`);
  if (f <= 0xffff_ffffn) {
    const scale = nanosecondScale(Number(f));
    return { frequencyHz: f, scale, toNanoseconds: (ticks) => scaleTicksReference(ticks, scale) };
  }
  return { frequencyHz: f, scale: null, toNanoseconds: (ticks) => (assertU64(ticks, "ticks") * 1_000_000_000n) / f };
}
