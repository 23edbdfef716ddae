/**
 * The process-wide counter reader: `@clocksource/native` when it can be
 * loaded (it is an optional dependency, so a failed install leaves the
 * package absent), adapted by {@link armCounterReaderFrom}. Nothing is loaded
 * at import: the addon is opened at the first counter access, and only on
 * arm64 (elsewhere the reader is unavailable without looking).
 */
import { createRequire } from "node:module";
import type { NativeReader } from "@clocksource/native";
import { armCounterReaderFrom, type ArmCounterReader } from "./native-reader.js";

function loadNative(): NativeReader {
  try {
    // Synchronous on purpose: the native package is CommonJS; no top-level await in this package.
    const mod = createRequire(import.meta.url)("@clocksource/native") as typeof import("@clocksource/native");
    return mod.loadNativeReader();
  } catch (e) {
    // Worded as every package words a missing @clocksource/native (see its loadNativeReader).
    return { ok: false, reason: `@clocksource/native is not installed (${String((e as Error)?.message ?? e).split("\n")[0]})` };
  }
}

let resolved: ArmCounterReader | undefined;

function resolveReader(): ArmCounterReader {
  // Off arm64 the answer does not depend on the addon: do not open it.
  resolved ??= process.arch === "arm64" ? armCounterReaderFrom(loadNative()) : armCounterReaderFrom({ ok: false, reason: "not loaded" });
  return resolved;
}

/** A reader that loads the addon when first used. */
const lazyReader: ArmCounterReader = Object.freeze({
  get unavailable(): string | null {
    return resolveReader().unavailable;
  },
  readCntvct: (): bigint => resolveReader().readCntvct(),
  readCntfrq: (): bigint | null => resolveReader().readCntfrq(),
});

/** The reader for this process; the addon is loaded on its first use. */
export function defaultArmCounterReader(): ArmCounterReader {
  return lazyReader;
}
