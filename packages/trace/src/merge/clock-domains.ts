/**
 * Names of clock domains in a merge: `<machine>.<clock>`, where the clock part
 * is one canonical name per underlying kernel clock, whichever tool named it.
 * ftrace's `mono` and perf's `CLOCK_MONOTONIC` are one clock (`monotonic`, the
 * name mapping files use); ftrace's `local` and perf's default clock are both
 * the kernel's `local_clock()` (`local`); `x86-tsc` is the TSC (`tsc`).
 */
import type { ClockUnit, TraceClock } from "../model/event.js";

interface ClockName {
  readonly canonical: string;
  readonly unit: ClockUnit;
}

/** Tool-specific clock names → canonical domain suffix and unit. */
const CLOCKS: Record<string, ClockName> = {
  // ftrace trace_clock names
  local: { canonical: "local", unit: "ns" },
  global: { canonical: "global", unit: "ns" },
  mono: { canonical: "monotonic", unit: "ns" },
  mono_raw: { canonical: "monotonic_raw", unit: "ns" },
  boot: { canonical: "boottime", unit: "ns" },
  tai: { canonical: "tai", unit: "ns" },
  "x86-tsc": { canonical: "tsc", unit: "ticks" },
  // ftrace's `counter` is an event counter, not time; `uptime` counts jiffies.
  counter: { canonical: "counter", unit: "ticks" },
  uptime: { canonical: "jiffies", unit: "ticks" },
  // perf: its default clock is local_clock(); -k selects a POSIX clock.
  perf: { canonical: "local", unit: "ns" },
  CLOCK_MONOTONIC: { canonical: "monotonic", unit: "ns" },
  CLOCK_MONOTONIC_RAW: { canonical: "monotonic_raw", unit: "ns" },
  CLOCK_BOOTTIME: { canonical: "boottime", unit: "ns" },
  CLOCK_REALTIME: { canonical: "realtime", unit: "ns" },
  CLOCK_TAI: { canonical: "tai", unit: "ns" },
  // Names mapping files and users use directly.
  monotonic: { canonical: "monotonic", unit: "ns" },
  monotonic_raw: { canonical: "monotonic_raw", unit: "ns" },
  boottime: { canonical: "boottime", unit: "ns" },
  realtime: { canonical: "realtime", unit: "ns" },
  tsc: { canonical: "tsc", unit: "ticks" },
  cntvct: { canonical: "cntvct", unit: "ticks" },
  cntpct: { canonical: "cntpct", unit: "ticks" },
  ns: { canonical: "ns", unit: "ns" },
};

/** The canonical clock part of a domain name for a tool's clock name (unknown names pass through). */
export function canonicalClock(name: string): string {
  return (Object.hasOwn(CLOCKS, name) ? (CLOCKS[name] as ClockName).canonical : name);
}

/** Whether a clock (tool name or canonical) counts ns or ticks; "unknown" for names not in the table. */
export function clockUnit(name: string): ClockUnit {
  return Object.hasOwn(CLOCKS, name) ? (CLOCKS[name] as ClockName).unit : "unknown";
}

/** `<machine>.<canonical clock>` for a trace clock; null when the trace does not say its clock. */
export function domainOf(machine: string, clock: TraceClock): string | null {
  return clock.name === null ? null : `${machine}.${canonicalClock(clock.name)}`;
}

/**
 * A mapping file's domain (`guest.tsc`, `host.monotonic`) renamed for a merge:
 * `guest.` becomes the guest machine, `host.` its parent.
 */
export function bindFileDomain(fileDomain: string, guest: string, parent: string): string {
  const dot = fileDomain.indexOf(".");
  const context = dot < 0 ? fileDomain : fileDomain.slice(0, dot);
  const clock = dot < 0 ? "" : fileDomain.slice(dot + 1);
  const machine = context === "guest" ? guest : context === "host" ? parent : context;
  return `${machine}.${canonicalClock(clock)}`;
}

/** Is a domain (`vm1.tsc`) counted in nanoseconds? */
export function domainIsNanoseconds(domain: string): boolean {
  const clock = domain.slice(domain.indexOf(".") + 1);
  return clockUnit(clock) === "ns";
}
