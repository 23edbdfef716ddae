import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BackendPackageStatus } from "./backend-packages.js";

/** The backend packages the command line uses when installed (the names backend-packages.ts loads). */
const NAMES = ["@clocksource/x86", "@clocksource/arm", "@clocksource/paravirt"] as const;

/** The package.json of `name` as Node would find it from here: in a node_modules of this directory or one above. */
function findPackageJson(name: string): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; ) {
    try {
      return readFileSync(join(dir, "node_modules", name, "package.json"), "utf8");
    } catch {
      // not in this node_modules: one level up
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Which backend packages are installed, from their package.json alone — no
 * package is loaded (not even the module resolver), so `--version` answers at
 * the cost of a few file reads. (Whether one also loads is what `probe` reports.)
 */
export function installedBackendPackages(): BackendPackageStatus[] {
  return NAMES.map((name) => {
    const text = findPackageJson(name);
    if (text === undefined) return { name, missing: "not installed" };
    try {
      const { version } = JSON.parse(text) as { version?: unknown };
      return typeof version === "string" ? { name, version } : { name };
    } catch (e) {
      return { name, missing: `unreadable package.json: ${String((e as Error)?.message ?? e).split("\n")[0]}` };
    }
  });
}
