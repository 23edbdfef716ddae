import type { NativeBinding } from "@clocksource/native";

/** The native counter reader, or why it is unavailable. */
export type NativeReader = { readonly ok: true; readonly native: NativeBinding; readonly counterReader: () => (() => bigint) | null } | { readonly ok: false; readonly reason: string };

// @clocksource/native is an optional dependency: it may be absent altogether,
// or present without its compiled addon. Either way the package still works.
let loaded: NativeReader;
try {
  const mod = await import("@clocksource/native");
  loaded = mod.native ? { ok: true, native: mod.native, counterReader: mod.counterReader } : { ok: false, reason: mod.availability.reason ?? "unknown reason" };
} catch (e) {
  loaded = { ok: false, reason: `@clocksource/native is not installed (${((e as Error)?.message ?? String(e)).split("\n")[0]})` };
}

/** The native reader if it loaded; otherwise the reason. */
export function nativeReader(): NativeReader {
  return loaded;
}
