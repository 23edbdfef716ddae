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

/** Parses a BogoMIPS value (`38.40`, `2000.00`, `166.66`) into hundredths, exactly. */
export function parseBogomipsHundredths(text: string): number | null {
  const m = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "0").padEnd(2, "0"));
}

/** `rate = BogoMIPS × 10^6 / 2` in Hz, from the value in hundredths (exact integer arithmetic). */
export function rateFromBogomipsHundredths(hundredths: number): number {
  return hundredths * 5_000;
}
