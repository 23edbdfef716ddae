/**
 * @packageDocumentation
 * @clocksource/native — optional Node-API counter reader. Loads the compiled
 * addon when it was built (`node-gyp rebuild` at install); otherwise reports
 * why it is unavailable, so backends can say "native reader unavailable:
 * <reason>" and fall back. Imports nothing else of clocksource.
 *
 * Set `CLOCKSOURCE_NATIVE=0` to act as if the addon were not built.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Whether the addon loaded, and why not. */
export interface NativeAvailability {
  readonly available: boolean;
  /** Why it is unavailable (absent when available). */
  readonly reason?: string;
  /** The addon file that was (or would have been) loaded. */
  readonly path: string;
}

/** The compiled addon's functions. Which ones exist depends on the CPU it was built for. */
export interface NativeBinding {
  /** The counter the addon reads: `tsc` (x86), `cntvct` (arm64) or `none`. */
  readonly counter: "tsc" | "cntvct" | "none";
  /** Does nothing: the cost floor of a Node-API call. */
  noop(): void;
  /** Reads the counter (rdtsc / cntvct_el0) as a BigInt. Absent when `counter` is `none`. */
  readCounter?(): bigint;
  /** x86: `rdtsc`. */
  rdtsc?(): bigint;
  /** x86: `rdtscp`, with the CPU and NUMA node Linux stores in IA32_TSC_AUX. */
  rdtscp?(): { tsc: bigint; cpu: number; node: number };
  /** arm64: `cntvct_el0`. */
  cntvct?(): bigint;
  /** arm64: `cntfrq_el0` (Hz). */
  cntfrq?(): bigint;
  /**
   * Brackets a `CLOCK_MONOTONIC_RAW` read with two ordered counter reads:
   * `out[0]` counter before, `out[1]` monotonic-raw ns, `out[2]` counter after.
   */
  readCounterPair(out: BigUint64Array): void;
  /** Registers the array `readCounterToSink` writes into (element 0). */
  setSink(sink: BigUint64Array): void;
  /** Writes the counter into the registered sink's element 0: no BigInt allocated. */
  readCounterToSink?(): void;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The built addon, beside `src/` and `dist/`. */
const ADDON_PATH = join(here, "..", "build", "Release", "clocksource_native.node");

function load(): { binding: NativeBinding | null; availability: NativeAvailability } {
  if (process.env.CLOCKSOURCE_NATIVE === "0") {
    return { binding: null, availability: { available: false, reason: "disabled by CLOCKSOURCE_NATIVE=0", path: ADDON_PATH } };
  }
  if (!existsSync(ADDON_PATH)) {
    return {
      binding: null,
      availability: {
        available: false,
        reason: "the addon was not built (no build/Release/clocksource_native.node; `npm rebuild @clocksource/native` needs a C compiler and the Node headers)",
        path: ADDON_PATH,
      },
    };
  }
  try {
    const req = createRequire(import.meta.url);
    const binding = req(ADDON_PATH) as NativeBinding;
    return { binding, availability: { available: true, path: ADDON_PATH } };
  } catch (e) {
    const msg = ((e as Error)?.message ?? String(e)).split("\n")[0];
    return { binding: null, availability: { available: false, reason: `the addon failed to load: ${msg}`, path: ADDON_PATH } };
  }
}

const loaded = load();

/** Whether the addon is usable here, and why not. */
export const availability: NativeAvailability = Object.freeze(loaded.availability);

/** The addon, or null when {@link availability} says it is unavailable. */
export const native: NativeBinding | null = loaded.binding;

/**
 * The addon, or an Error explaining why it is missing (for callers that
 * cannot go on without it).
 */
export function requireNative(): NativeBinding {
  if (!native) throw new Error(`native reader unavailable: ${availability.reason ?? "unknown reason"}`);
  return native;
}

/**
 * What a backend package needs from the addon: the binding and its fast
 * counter read, or why it is unavailable — the one result every package
 * reports the same way ("native reader unavailable: <reason>").
 */
export type NativeReader =
  | { readonly ok: true; readonly native: NativeBinding; readonly counterReader: () => (() => bigint) | null }
  | { readonly ok: false; readonly reason: string };

/**
 * The addon as a {@link NativeReader}. Packages that depend on this one
 * optionally still catch a failed `import("@clocksource/native")` themselves
 * and report it as `{ ok: false, reason: "@clocksource/native is not installed (<error>)" }`.
 */
export function loadNativeReader(): NativeReader {
  return native ? { ok: true, native, counterReader } : { ok: false, reason: availability.reason ?? "unknown reason" };
}

let sharedSink: BigUint64Array | undefined;

/**
 * A fast counter read: the addon writes the counter into one process-wide
 * `BigUint64Array` (registered with `setSink` once, here) and the returned
 * function reads it back, so the C side allocates nothing. Use this rather
 * than calling `setSink` yourself: the addon has a single sink per process.
 * Returns null when the addon is unavailable or has no counter here.
 */
export function counterReader(): (() => bigint) | null {
  if (!native?.readCounterToSink) return null;
  if (!sharedSink) {
    sharedSink = new BigUint64Array(1);
    native.setSink(sharedSink);
  }
  const sink = sharedSink;
  const read = native.readCounterToSink;
  return () => {
    read();
    return sink[0] as bigint;
  };
}
