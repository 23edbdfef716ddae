/**
 * The process-wide counter reader: `@clocksource/native` when it can be
 * imported (it is an optional dependency, so a failed install leaves the
 * package absent), adapted by {@link armCounterReaderFrom}.
 */
import type { NativeReader } from "@clocksource/native";
import { armCounterReaderFrom, type ArmCounterReader } from "./native-reader.js";

// Worded as every package words a missing @clocksource/native (see its loadNativeReader).
const loaded: NativeReader = await import("@clocksource/native").then(
  (m) => m.loadNativeReader(),
  (e: unknown): NativeReader => ({ ok: false, reason: `@clocksource/native is not installed (${String((e as Error)?.message ?? e).split("\n")[0]})` }),
);

let cached: ArmCounterReader | undefined;

/** The reader for this process, built once. */
export function defaultArmCounterReader(): ArmCounterReader {
  cached ??= armCounterReaderFrom(loaded);
  return cached;
}
