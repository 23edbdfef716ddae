import type { ClockUnit, TraceClock } from "../../model/event.js";

/**
 * How well-known clocks count. ftrace prints `counter`, `uptime` (jiffies) and
 * `x86-tsc` as raw counts and every other trace_clock in ns; perf's clocks are
 * all ns; clock domain names (`host.tsc`, `guest.cntvct`) count ticks of the
 * counter they name.
 */
const TICKS = new Set(["x86-tsc", "counter", "uptime", "ppc-tb", "tsc", "cntvct", "cntpct", "arch_sys_counter"]);
const NS = new Set([
  "local", "global", "perf", "mono", "mono_raw", "boot", "tai", "ns",
  "monotonic", "monotonic_raw", "boottime", "realtime",
  "CLOCK_MONOTONIC", "CLOCK_MONOTONIC_RAW", "CLOCK_BOOTTIME", "CLOCK_REALTIME", "CLOCK_TAI",
]);

/** The unit of a clock by its name, or "unknown" for a name this table does not know. */
export function clockUnitOf(name: string): ClockUnit {
  const counter = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1) : name;
  if (TICKS.has(name) || TICKS.has(counter)) return "ticks";
  if (NS.has(name) || NS.has(counter)) return "ns";
  return "unknown";
}

/** The clock the user declared (`--clock`, `clockUnit`), if any. */
export function declaredClock(options: { readonly clock?: string; readonly clockUnit?: ClockUnit }): TraceClock | null {
  if (options.clock === undefined || options.clock === "") return null;
  return { name: options.clock, unit: options.clockUnit ?? clockUnitOf(options.clock), source: "--clock" };
}
