/**
 * The arm64 BogoMIPS figure and the timer rate it implies.
 *
 * arm64 kernels never calibrate a delay loop: they set `loops_per_jiffy` to
 * `timer_rate / HZ`, and cpuinfo prints `BogoMIPS = lpj × HZ / 500000`
 * truncated to two decimals, that is `2 × rate / 10^6`. Two truncations lose
 * information (the division by HZ, and the last printed digit, worth 5 kHz),
 * so the rate read back is a heuristic lower bound, good to about 5 kHz.
 * 32-bit Arm kernels may calibrate a busy loop instead (or use any board
 * timer for a timer-based delay), so BogoMIPS says nothing there.
 */
import { parseDecimalScaled } from "@clocksource/core";

/** Parses a BogoMIPS value (`38.40`, `2000.00`, `166.66`) into hundredths, exactly. */
export function parseBogomipsHundredths(text: string): number | null {
  const h = parseDecimalScaled(text.trim(), 2);
  // 7 integer digits (a 50 THz "timer") is more than any cpuinfo prints: beyond it, not a BogoMIPS figure.
  return h === null || h >= 1_000_000_000n ? null : Number(h);
}

/** `rate = BogoMIPS × 10^6 / 2` in Hz, from the value in hundredths (exact integer arithmetic). */
export function rateFromBogomipsHundredths(hundredths: number): number {
  return hundredths * 5_000;
}
