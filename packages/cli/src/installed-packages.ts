import { createRequire } from "node:module";
import type { BackendPackageStatus } from "./backend-packages.js";

/** The backend packages the command line uses when installed (the names backend-packages.ts loads). */
const NAMES = ["@clocksource/x86", "@clocksource/arm", "@clocksource/paravirt"] as const;

/**
 * Which backend packages are installed, from their package.json alone — no
 * package is loaded, so `--version` answers at the cost of a few file reads.
 * (Whether one also loads is what `probe` reports.)
 */
export function installedBackendPackages(): BackendPackageStatus[] {
  const require = createRequire(import.meta.url);
  return NAMES.map((name) => {
    try {
      const { version } = require(`${name}/package.json`) as { version?: string };
      return version ? { name, version } : { name };
    } catch (e) {
      const code = (e as { code?: string })?.code;
      return { name, missing: code === "MODULE_NOT_FOUND" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED" ? "not installed" : `unreadable: ${String((e as Error)?.message ?? e).split("\n")[0]}` };
    }
  });
}
