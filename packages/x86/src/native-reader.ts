import { createRequire } from "node:module";
import type { NativeReader } from "@clocksource/native";

export type { NativeReader } from "@clocksource/native";

let loaded: NativeReader | undefined;

/**
 * The native reader if it loaded; otherwise the reason. The addon is opened
 * on the first call, not at import, so programs that only parse files never
 * load it and `require("@clocksource/x86")` works from CommonJS (no top-level
 * await). `@clocksource/native` is an optional dependency: it may be absent
 * altogether (worded as every package words it), or present without an addon
 * for this platform (then its `loadNativeReader` says why).
 */
export function nativeReader(): NativeReader {
  if (!loaded) {
    try {
      // Synchronous on purpose: the native package is CommonJS, and callers need an answer now.
      const mod = createRequire(import.meta.url)("@clocksource/native") as typeof import("@clocksource/native");
      loaded = mod.loadNativeReader();
    } catch (e) {
      loaded = { ok: false, reason: `@clocksource/native is not installed (${String((e as Error)?.message ?? e).split("\n")[0]})` };
    }
  }
  return loaded;
}
