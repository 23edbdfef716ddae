import type { DependencyContainer } from "tsyringe";

/** One backend package the command line uses when it is installed. */
export interface BackendPackageStatus {
  /** npm name, e.g. `@clocksource/x86`. */
  readonly name: string;
  /** Its version when loaded. */
  readonly version?: string;
  /** Why it is not used: not installed (an optional dependency) or failed to load. */
  readonly missing?: string;
}

type RegisterFn = (c: DependencyContainer) => void;

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0] ?? "";
}

/**
 * The architecture packages are optional dependencies of the CLI (`npm i -g
 * @clocksource/cli --omit=optional` then `npm i -g @clocksource/x86` installs
 * it for one architecture), so each is imported if present. Loaded once, when
 * a command that selects a clock first needs them.
 */
async function load(name: string, importer: () => Promise<{ register: RegisterFn }>): Promise<{ status: BackendPackageStatus; register?: RegisterFn }> {
  try {
    const mod = await importer();
    let version: string | undefined;
    try {
      const { createRequire } = await import("node:module");
      version = (createRequire(import.meta.url)(`${name}/package.json`) as { version?: string }).version;
    } catch {
      // The version is for people; a package without a readable package.json still works.
    }
    return { status: version ? { name, version } : { name }, register: mod.register };
  } catch (e) {
    const code = (e as { code?: string })?.code;
    const notInstalled = (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && firstLine(e).includes(name);
    return { status: { name, missing: notInstalled ? "not installed" : `failed to load: ${firstLine(e)}` } };
  }
}

const LOADED = await Promise.all([
  load("@clocksource/x86", () => import("@clocksource/x86")),
  load("@clocksource/arm", () => import("@clocksource/arm")),
  load("@clocksource/paravirt", () => import("@clocksource/paravirt")),
]);

/** Which backend packages are installed and used, and why the others are not. */
export function backendPackages(): readonly BackendPackageStatus[] {
  return LOADED.map((l) => l.status);
}

/**
 * Registers every installed backend package's probes and backends. Each
 * exports `register(container)`; add a package to LOADED to make `clocksource`
 * use it.
 */
export function registerBundledBackends(c: DependencyContainer): void {
  for (const l of LOADED) l.register?.(c);
}
