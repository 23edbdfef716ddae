/**
 * The width Linux assumes for the Arm system counter.
 *
 * The architecture gives no register that says how wide the counter is: it
 * guarantees at least 56 bits and a roll-over time of at least 40 years (and
 * from Armv8.6 a full 64 bits at 1 GHz). Since 2021 the arch-timer driver
 * therefore takes the smallest width that cannot wrap within 40 years at the
 * counter's rate, but never less than 56 or more than 64 bits. Kernels before
 * that change used 56 bits at every rate.
 */

/** 40 years of 365 days, in seconds: the architected minimum roll-over time. */
export const MIN_ROLLOVER_SECONDS = 40n * 365n * 24n * 3600n;

/** The architecture's minimum counter width. */
export const MIN_COUNTER_WIDTH = 56;
/** The register width. */
export const MAX_COUNTER_WIDTH = 64;

/**
 * The width the driver assumes for a counter at `rateHz`: the number of bits
 * needed to hold `MIN_ROLLOVER_SECONDS × rate − 1` (that is, the smallest w with
 * 2^w ≥ 40 years of ticks), clamped to 56…64.
 *
 * Worked values: 19.2, 24, 25 and 50 MHz → 56; 62.5 and 100 MHz → 57; 1 GHz → 61.
 * The step from 56 to 57 bits happens above 2^56 / (40 years) ≈ 57.1 MHz.
 *
 * @param rateHz a positive integer rate in Hz
 */
export function kernelCounterWidth(rateHz: number | bigint): number {
  const rate = BigInt(rateHz);
  if (rate <= 0n) return MIN_COUNTER_WIDTH;
  const ticks = MIN_ROLLOVER_SECONDS * rate;
  // bit length of (ticks − 1) = ilog2(ticks − 1) + 1 for ticks ≥ 2.
  const bits = ticks <= 1n ? 1 : (ticks - 1n).toString(2).length;
  return Math.min(MAX_COUNTER_WIDTH, Math.max(MIN_COUNTER_WIDTH, bits));
}

/** The lowest rate (Hz) at which {@link kernelCounterWidth} exceeds `width` bits. */
export function rateAboveWidth(width: number): bigint {
  // kernelCounterWidth(r) > w ⇔ 40y × r − 1 ≥ 2^w ⇔ r ≥ (2^w + 1) / 40y, rounded up.
  const num = (1n << BigInt(width)) + 1n;
  return (num + MIN_ROLLOVER_SECONDS - 1n) / MIN_ROLLOVER_SECONDS;
}
