import { createRequire } from "node:module";

/**
 * Set by the bundler (scripts/bundle-cli.mjs) to the version of every
 * package it built into the command line; undefined when the command line
 * runs from the TypeScript build.
 */
declare const __CLOCKSOURCE_VERSIONS__: Readonly<Record<string, string>> | undefined;

/** A backend package the command line is built with. */
export interface BackendPackageStatus {
  /** npm name, e.g. `@clocksource/x86`. */
  readonly name: string;
  /** Its version, when known. */
  readonly version?: string;
}

/** The backend packages built into the command line, in the order they register. */
export const BACKEND_PACKAGE_NAMES = ["@clocksource/x86", "@clocksource/arm", "@clocksource/paravirt"] as const;

/**
 * A package's version: the one built into the bundled command line, or,
 * running from the TypeScript build, the package.json Node finds from here.
 */
export function packageVersion(name: string): string | undefined {
  if (typeof __CLOCKSOURCE_VERSIONS__ !== "undefined") return __CLOCKSOURCE_VERSIONS__[name];
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** This command line's version. */
export function cliVersion(): string {
  return packageVersion("@clocksource/cli") ?? "unknown";
}

/** The backend packages with their versions, without loading any of them (what `--version` prints). */
export function backendPackages(): BackendPackageStatus[] {
  return BACKEND_PACKAGE_NAMES.map((name) => {
    const version = packageVersion(name);
    return version === undefined ? { name } : { name, version };
  });
}
