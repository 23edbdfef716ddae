import { calcMultShift, type MultShift } from "./math/mult-shift.js";
import type { ClockDomain } from "./domains.js";

/**
 * A readable clock: a counter in a domain, with an exact ticks → ns conversion.
 * Implementations must not pretend: `now()` reads the real counter or throws.
 */
export interface ClockSource {
  /** The backend id that created it (e.g. `x86-tsc`, `os-monotonic`). */
  readonly id: string;
  readonly domain: ClockDomain;
  /** Ticks per second (exact or probed; see the backend's verdict for how sure). */
  readonly frequencyHz: number;
  /** Counter width in bits. */
  readonly widthBits: number;
  /** Reads the counter now, as a u64 tick count. */
  now(): bigint;
  /** Converts a tick count (u64) to nanoseconds, exactly per the source's mult/shift. */
  toNanoseconds(ticks: bigint): bigint;
}

/** The longest interval, in seconds, that a default tick converter must handle without overflow (kernel: 600 s for clocksources; we keep the full 64-bit range by using BigInt). */
export const DEFAULT_CONVERSION_RANGE_SECONDS = 600;

/**
 * The mult/shift a clock source at `frequencyHz` uses for ticks → ns.
 * At exactly 1 GHz the conversion is the identity (mult 1, shift 0).
 */
export function nanosecondScale(frequencyHz: number, maxSeconds = DEFAULT_CONVERSION_RANGE_SECONDS): MultShift {
  if (frequencyHz === 1_000_000_000) return { mult: 1, shift: 0 };
  return calcMultShift(frequencyHz, 1_000_000_000, maxSeconds);
}
