/**
 * @packageDocumentation
 * @clocksource/native — optional Node-API counter reader. Loads the addon
 * with node-gyp-build: a local source build (`build/Release`) if there is one,
 * else the prebuilt binary shipped for this platform (`prebuilds/linux-x64`,
 * `prebuilds/linux-arm64`); otherwise it reports why it is unavailable, so
 * backends can say "native reader unavailable: <reason>" and fall back.
 * Imports nothing else of clocksource. Importing this module opens the addon:
 * the backend packages import it only when they first need a counter read.
 *
 * Set `CLOCKSOURCE_NATIVE=0` to act as if the addon were not there.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Whether the addon loaded, and why not. */
export interface NativeAvailability {
  readonly available: boolean;
  /** Why it is unavailable (absent when available). */
  readonly reason?: string;
  /** The addon file that was loaded, or the package directory that was searched. */
  readonly path: string;
  /** Where the loaded addon came from: a source build in `build/`, or a prebuilt binary shipped in `prebuilds/`. */
  readonly origin?: "source build" | "prebuilt";
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
  /**
   * `output[i] = ((input[i] × mult) >> shift) + add` mod 2^64, with the full
   * 128-bit product (KVM's host → guest TSC map), for every element of
   * `input`. `output` may be `input` itself. Absent where the compiler has no
   * 128-bit integer, and in addons built before it existed.
   * @returns -1; or -2, having converted nothing, when `output` overlaps
   *   `input` at another offset (compared by address, so two buffer objects
   *   over one memory count too): convert those another way
   * @throws TypeError for arrays of another kind or an `output` shorter than
   *   `input`; RangeError for `mult`/`add` outside u64 or `shift` not an integer in 0..63
   */
  mulShiftAddBatch?(input: BigUint64Array, output: BigUint64Array, mult: bigint, shift: number, add: bigint): number;
  /**
   * The exact inverse, for every element: the smallest x < 2^64 with
   * `⌊x × mult / 2^shift⌋ ≥ (input[i] − add) mod 2^64`. A value with no such x
   * is copied to `output` unchanged; the values after it are still converted.
   * @returns the index of the first value without a result, or -1; or -2 as
   *   {@link NativeBinding.mulShiftAddBatch} (nothing converted)
   * @throws as {@link NativeBinding.mulShiftAddBatch}, and RangeError for `mult` 0
   */
  mulShiftAddInverseBatch?(input: BigUint64Array, output: BigUint64Array, mult: bigint, shift: number, add: bigint): number;
}

// CommonJS (package.json "type"), not an ES module: it is loaded at start-up by every command that reads a counter, and
// require() of CommonJS spares Node's ES module loader (~10 ms here) for a file this small.
const PACKAGE_DIR = join(__dirname, "..");

/** What the install step recorded when it could neither use a prebuild nor build one. */
function installNotice(): string {
  try {
    const text = readFileSync(join(PACKAGE_DIR, "install-notice.txt"), "utf8").trim();
    return text ? `; at install: ${text}` : "";
  } catch {
    return "";
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0] ?? "";
}

/**
 * The addon node-gyp-build would choose, found without it where that is
 * certain: this package's own source build (`build/Release`, which
 * node-gyp-build takes first), else the glibc prebuild for this CPU on a Linux
 * that is not musl-based (node-gyp-build's test for musl is Alpine's release
 * file). Anything else is left to node-gyp-build. Loading node-gyp-build and
 * listing directories took a few ms of every command's start-up.
 */
function knownAddon(): string | null {
  const build = join(PACKAGE_DIR, "build", "Release", "clocksource_native.node");
  if (existsSync(build)) return build;
  if (process.platform !== "linux" || existsSync("/etc/alpine-release")) return null;
  const prebuild = join(PACKAGE_DIR, "prebuilds", `linux-${process.arch}`, "@clocksource+native.glibc.node");
  return existsSync(prebuild) ? prebuild : null;
}

function load(): { binding: NativeBinding | null; availability: NativeAvailability } {
  if (process.env.CLOCKSOURCE_NATIVE === "0") {
    return { binding: null, availability: { available: false, reason: "disabled by CLOCKSOURCE_NATIVE=0", path: PACKAGE_DIR } };
  }
  let path: string;
  try {
    path = knownAddon() ?? (require("node-gyp-build") as { resolve(dir: string): string }).resolve(PACKAGE_DIR);
  } catch (e) {
    const searched = existsSync(join(PACKAGE_DIR, "prebuilds")) ? "prebuilds/ has none for it" : "the package has no prebuilds/";
    return {
      binding: null,
      availability: {
        available: false,
        reason: `no addon for ${process.platform}-${process.arch}: prebuilt binaries cover linux-x64 and linux-arm64 (${searched}) and there is no source build (\`npm rebuild @clocksource/native\` needs a C compiler and the Node headers) [${firstLine(e)}]${installNotice()}`,
        path: PACKAGE_DIR,
      },
    };
  }
  const origin = relative(PACKAGE_DIR, path).split(sep)[0] === "prebuilds" ? "prebuilt" : "source build";
  try {
    const binding = require(path) as NativeBinding;
    return { binding, availability: { available: true, path, origin } };
  } catch (e) {
    return { binding: null, availability: { available: false, reason: `the addon (${origin}) failed to load: ${firstLine(e)}`, path } };
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

// The addon keeps one sink per process, while this module may be loaded twice
// (once by `import`, once by `require`): keep the sink on the binding itself.
const SINK = Symbol.for("@clocksource/native.sink");

/**
 * A fast counter read: the addon writes the counter into one process-wide
 * `BigUint64Array` (registered with `setSink` once, here) and the returned
 * function reads it back, so the C side allocates nothing. Use this rather
 * than calling `setSink` yourself: the addon has a single sink per process.
 * Returns null when the addon is unavailable or has no counter here.
 */
export function counterReader(): (() => bigint) | null {
  if (!native?.readCounterToSink) return null;
  const holder = native as NativeBinding & { [SINK]?: BigUint64Array };
  let sink = holder[SINK];
  if (!sink) {
    sink = new BigUint64Array(1);
    native.setSink(sink);
    Object.defineProperty(holder, SINK, { value: sink });
  }
  const read = native.readCounterToSink;
  const out = sink;
  return () => {
    read();
    return out[0] as bigint;
  };
}
