/**
 * A clock domain: a named tick source. A timestamp is meaningless without one.
 * Well-known names: `host.tsc`, `guest.tsc`, `host.cntpct`, `guest.cntvct`,
 * `host.monotonic`, `guest.monotonic` (the last two tick in nanoseconds).
 */
export interface ClockDomain {
  /** Stable name, `<context>.<counter>`. */
  readonly name: string;
  /** Ticks per second when known, else null (an uncalibrated counter). */
  readonly frequencyHz: number | null;
  /** Counter width in bits; values wrap at 2^widthBits. */
  readonly widthBits: number;
}

/** Creates a {@link ClockDomain}. */
export function clockDomain(name: string, frequencyHz: number | null, widthBits = 64): ClockDomain {
  return Object.freeze({ name, frequencyHz, widthBits });
}

/** Domain names the built-in backends and mappings use. */
export const DOMAIN = {
  hostTsc: "host.tsc",
  guestTsc: "guest.tsc",
  hostCntpct: "host.cntpct",
  guestCntvct: "guest.cntvct",
  hostMonotonic: "host.monotonic",
  guestMonotonic: "guest.monotonic",
} as const;
