import {
  assertU64,
  clockDomain,
  FACT,
  nanosecondScale,
  RATING,
  scaleTicksReference,
  unusable,
  type BackendContext,
  type BackendVerdict,
  type ClockBackend,
  type ClockSource,
  type SystemView,
} from "@clocksource/core";

/**
 * A clock in microsecond ticks on top of the OS monotonic clock: cheaper to
 * store in a log than nanoseconds, and ordered with it.
 */
export class MicrosecondBackend implements ClockBackend {
  readonly id = "microsecond-monotonic";
  readonly description = "OS monotonic clock in 1 MHz ticks (example backend)";

  /** @param view the machine being probed: this process's clock is only that machine's when it is live */
  constructor(private readonly view: SystemView) {}

  assess({ facts }: BackendContext): BackendVerdict {
    if (!this.view.live) return unusable([`${this.view.root} is a snapshot: this process's clock is not that machine's`]);
    const current = facts.best(FACT.kernelClocksourceCurrent);
    if (current?.value === "jiffies") {
      return unusable([`the kernel clocksource is jiffies (${current.source}): too coarse for microseconds`]);
    }
    return {
      usable: true,
      // Just above the plain OS monotonic clock, which it refines.
      rating: RATING.osMonotonic + 10,
      mapping: "none",
      reasons: [current ? `kernel clocksource ${String(current.value)} (${current.source})` : "kernel clocksource unknown; assuming fine-grained"],
    };
  }

  create(): ClockSource {
    const frequencyHz = 1_000_000;
    const scale = nanosecondScale(frequencyHz);
    return {
      id: this.id,
      domain: clockDomain("host.monotonic-us", frequencyHz, 64),
      frequencyHz,
      widthBits: 64,
      now: () => process.hrtime.bigint() / 1000n,
      toNanoseconds: (ticks) => scaleTicksReference(assertU64(ticks, "ticks"), scale),
    };
  }
}
