/**
 * Access to the counter registers through the optional `@clocksource/native`
 * addon. User space reads `CNTVCT_EL0` (the virtual count) and `CNTFRQ_EL0`
 * (the frequency firmware programmed) with one `mrs` instruction each; Node
 * cannot, so this goes through the addon, whose arm64 build has `cntvct` and
 * `cntfrq` (and whose other builds do not). Everything here degrades to an
 * explained "unavailable".
 */
import type { NativeReader } from "@clocksource/native";

/** A reader of the Arm generic-timer registers from user space. */
export interface ArmCounterReader {
  /** Null when the reader works; otherwise why it cannot (not arm64, addon not built, no cntvct path). */
  readonly unavailable: string | null;
  /** Reads `CNTVCT_EL0`. @throws when {@link unavailable} is set */
  readCntvct(): bigint;
  /** Reads `CNTFRQ_EL0`, or null when the addon has no cntfrq path. @throws when {@link unavailable} is set */
  readCntfrq(): bigint | null;
}

/** A reader that cannot read, with the reason. */
export function unavailableReader(reason: string): ArmCounterReader {
  const fail = (): never => {
    throw new Error(reason);
  };
  return { unavailable: reason, readCntvct: fail, readCntfrq: fail };
}

/**
 * Adapts the native module to {@link ArmCounterReader}: usable only when this
 * process runs on arm64 and the addon loaded with its `cntvct` path. Counter
 * reads use the addon's allocation-free sink reader when it has one.
 *
 * @param loaded `loadNativeReader()` of `@clocksource/native`, or the failure to import it
 * @param arch the process architecture (`process.arch`)
 */
export function armCounterReaderFrom(loaded: NativeReader, arch: string = process.arch): ArmCounterReader {
  if (arch !== "arm64") return unavailableReader(`it reads CNTVCT_EL0 only on arm64, and this process runs on ${arch}`);
  if (!loaded.ok) return unavailableReader(loaded.reason);
  const binding = loaded.native;
  const cntvct = binding.cntvct;
  if (binding.counter !== "cntvct" || !cntvct) return unavailableReader(`the addon has no cntvct_el0 path (it was built for counter ${JSON.stringify(binding.counter)})`);
  const fast = loaded.counterReader();
  const cntfrq = binding.cntfrq;
  return {
    unavailable: null,
    readCntvct: fast ?? (() => cntvct.call(binding)),
    readCntfrq: () => (cntfrq ? cntfrq.call(binding) : null),
  };
}
