import { RATING, type BackendContext, type BackendVerdict, type ClockBackend } from "./backend.js";
import type { ClockSource } from "../clock-source.js";
import { clockDomain, DOMAIN } from "../domains.js";
import { assertU64 } from "../math/u64.js";
import { resolveVirtualization } from "../probing/virtualization.js";

/**
 * The OS monotonic clock (`CLOCK_MONOTONIC` through `process.hrtime.bigint()`),
 * in nanoseconds. Always usable, lowest rating: it has no relation to any other
 * machine's clock, so guest and host timestamps cannot be merged with it alone.
 */
export class OsMonotonicBackend implements ClockBackend {
  readonly id = "os-monotonic";
  readonly description = "the OS monotonic clock (CLOCK_MONOTONIC, ns); no guest/host mapping";

  assess(): BackendVerdict {
    return {
      usable: true,
      rating: RATING.osMonotonic,
      mapping: "none",
      reasons: ["always available", "no mapping to another machine's time base"],
    };
  }

  create(context: BackendContext): ClockSource {
    const role = resolveVirtualization(context.facts).role;
    const domain = clockDomain(role === "guest" ? DOMAIN.guestMonotonic : DOMAIN.hostMonotonic, 1_000_000_000, 64);
    return {
      id: this.id,
      domain,
      frequencyHz: 1_000_000_000,
      widthBits: 64,
      now: () => process.hrtime.bigint(),
      toNanoseconds: (ticks: bigint) => assertU64(ticks, "ticks"),
    };
  }
}
