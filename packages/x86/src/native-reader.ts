import type { NativeReader } from "@clocksource/native";

export type { NativeReader } from "@clocksource/native";

// @clocksource/native is an optional dependency: it may be absent altogether
// (then the import throws, worded as every package words it), or present
// without its compiled addon (then loadNativeReader says why).
const loaded: NativeReader = await import("@clocksource/native").then(
  (m) => m.loadNativeReader(),
  (e: unknown): NativeReader => ({ ok: false, reason: `@clocksource/native is not installed (${String((e as Error)?.message ?? e).split("\n")[0]})` }),
);

/** The native reader if it loaded; otherwise the reason. */
export function nativeReader(): NativeReader {
  return loaded;
}
