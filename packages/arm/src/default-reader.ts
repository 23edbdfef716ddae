/**
 * The process-wide counter reader: `@clocksource/native` when it can be
 * imported (it is an optional dependency, so a failed install leaves the
 * package absent), adapted by {@link armCounterReaderFrom}.
 */
import { armCounterReaderFrom, type ArmCounterReader, type NativeModuleLike } from "./native-reader.js";

const nativeModule: NativeModuleLike | Error = await import("@clocksource/native").catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

let cached: ArmCounterReader | undefined;

/** The reader for this process, built once. */
export function defaultArmCounterReader(): ArmCounterReader {
  cached ??= armCounterReaderFrom(nativeModule);
  return cached;
}
