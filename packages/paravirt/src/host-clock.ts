import { ClocksourceError, DOMAIN } from "@clocksource/core";
import type { HostClockKind } from "./protocol/messages.js";

/** The clock the agent stamps requests with. */
export interface HostClock {
  readonly kind: HostClockKind;
  /** The domain its readings belong to (`host.monotonic`, `host.tsc`). */
  readonly domain: string;
  /** Ticks per second. */
  readonly frequencyHz: bigint;
  /** Reads the clock (u64 ticks). */
  now(): bigint;
}

/** The OS monotonic clock (`CLOCK_MONOTONIC` via `process.hrtime.bigint()`), in nanoseconds. */
export const monotonicHostClock: HostClock = Object.freeze({
  kind: "monotonic" as const,
  domain: DOMAIN.hostMonotonic,
  frequencyHz: 1_000_000_000n,
  now: () => process.hrtime.bigint(),
});

/** The part of `@clocksource/native` this module uses (imported by name at run time: it is optional). */
interface NativeModule {
  readonly native: { readonly counter: string; rdtsc?(): bigint } | null;
  readonly availability: { readonly reason?: string };
  counterReader(): (() => bigint) | null;
}

/**
 * The host TSC through the optional native addon (`@clocksource/native`),
 * announced at `frequencyHz` (the agent's caller learns it from the x86 facts
 * or the user).
 * @throws ClocksourceError `BACKEND_UNUSABLE` when the addon is missing, not
 *   built, or this is not x86; `INVALID_ARGUMENT` for a zero frequency
 */
export async function tscHostClock(frequencyHz: bigint): Promise<HostClock> {
  if (frequencyHz <= 0n) throw new ClocksourceError("INVALID_ARGUMENT", `the TSC frequency must be positive, got ${frequencyHz}`);
  let mod: NativeModule;
  const name = "@clocksource/native";
  try {
    mod = (await import(name)) as NativeModule;
  } catch (e) {
    throw new ClocksourceError("BACKEND_UNUSABLE", `--clock tsc needs the native counter reader (@clocksource/native), which is not installed: ${((e as Error)?.message ?? String(e)).split("\n")[0]}`);
  }
  const n = mod.native;
  if (!n) throw new ClocksourceError("BACKEND_UNUSABLE", `--clock tsc needs the native counter reader, which is unavailable: ${mod.availability?.reason ?? "unknown reason"}`);
  if (n.counter !== "tsc") throw new ClocksourceError("BACKEND_UNUSABLE", `--clock tsc: this machine's counter is ${n.counter}, not an x86 TSC`);
  const fast = mod.counterReader();
  const rdtsc = n.rdtsc?.bind(n);
  const now = fast ?? rdtsc;
  if (!now) throw new ClocksourceError("BACKEND_UNUSABLE", "--clock tsc: the native reader offers no TSC read");
  const first = now();
  if (typeof first !== "bigint") throw new ClocksourceError("BACKEND_UNUSABLE", "--clock tsc: the native TSC read did not return a bigint");
  return Object.freeze({ kind: "tsc" as const, domain: DOMAIN.hostTsc, frequencyHz, now });
}
