import { createRequire } from "node:module";
import { backendPackages, cliVersion, type BackendPackageStatus } from "./package-versions.js";
import type { LoadedPlugin } from "./plugins.js";

/** Whether this process loaded the native counter reader, and why not. */
export interface NativeStatus {
  readonly loaded: boolean;
  /** `prebuilt` (shipped in the package) or `source build` (built at install). */
  readonly origin?: string;
  /** The addon file loaded. */
  readonly path?: string;
  /** Why it is not loaded. */
  readonly reason?: string;
}

/** What this command line runs with: the native reader, the backend packages, the plugins. */
export interface RuntimeStatus {
  readonly native: NativeStatus | null;
  readonly packages: readonly BackendPackageStatus[];
  readonly plugins: readonly { readonly spec: string; readonly path: string }[];
}

interface NativeModule {
  readonly availability: { readonly available: boolean; readonly reason?: string; readonly path: string; readonly origin?: string };
}

/**
 * Loads `@clocksource/native` (an optional dependency: it may be missing, or
 * present without an addon for this machine) and says what came of it.
 */
export async function nativeStatus(): Promise<NativeStatus> {
  // By name at run time, beside the command line (it is not bundled): the CLI must start without it.
  // require(), as the backend packages load it: one copy, and no ES module loader to start.
  try {
    const { availability: a } = createRequire(import.meta.url)("@clocksource/native") as NativeModule;
    return a.available ? { loaded: true, ...(a.origin ? { origin: a.origin } : {}), path: a.path } : { loaded: false, reason: a.reason ?? "unknown reason" };
  } catch (e) {
    return { loaded: false, reason: `@clocksource/native is not installed (${String((e as Error)?.message ?? e).split("\n")[0]})` };
  }
}

/**
 * The runtime status. The native reader is looked at only when `withNative`
 * (a live machine): a snapshot's answers do not depend on it.
 */
export async function runtimeStatus(plugins: readonly LoadedPlugin[], withNative: boolean): Promise<RuntimeStatus> {
  return {
    native: withNative ? await nativeStatus() : null,
    packages: backendPackages(),
    plugins: plugins.map((p) => ({ spec: p.spec, path: p.path })),
  };
}

/** One line for people: "loaded (prebuilt, PATH)" or "not loaded: REASON". */
export function describeNative(n: NativeStatus): string {
  return n.loaded ? `loaded (${n.origin ?? "addon"}: ${n.path ?? "?"})` : `not loaded: ${n.reason ?? "unknown reason"}`;
}

/** One line for people: "@clocksource/x86 0.1.0, @clocksource/arm 0.1.0, …". */
export function describePackages(ps: readonly BackendPackageStatus[]): string {
  return ps.map((p) => `${p.name} ${p.version ?? ""}`.trim()).join(", ");
}

/** What `clocksource --version` prints: the version, the native reader, the backend packages, Node. */
export async function versionText(): Promise<string> {
  return `clocksource ${cliVersion()}\nnative reader: ${describeNative(await nativeStatus())}\nbackend packages: ${describePackages(backendPackages())}\nnode ${process.version} ${process.platform}-${process.arch}\n`;
}

/** The runtime lines of `clocksource probe`. */
export function renderRuntime(r: RuntimeStatus): string {
  let out = "\nruntime:\n";
  if (r.native) out += `  ${"native reader".padEnd(20)} ${describeNative(r.native)}\n`;
  out += `  ${"backend packages".padEnd(20)} ${describePackages(r.packages)}\n`;
  out += `  ${"plugins".padEnd(20)} ${r.plugins.length ? r.plugins.map((p) => `${p.spec} (${p.path})`).join(", ") : "none (--plugin MODULE, CLOCKSOURCE_PLUGINS)"}\n`;
  return out;
}
