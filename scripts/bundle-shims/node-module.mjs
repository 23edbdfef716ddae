/**
 * Stands in for `node:module` inside the command line's CommonJS bundles
 * (scripts/bundle-cli.mjs). There `import.meta.url` is the bundle's own file,
 * and `createRequire` of it is the bundle's own `require`: handing that back
 * spares every run loading `node:module` (which brings part of the ES module
 * loader) and resolving `@clocksource/native` once per caller, as separate
 * `createRequire` functions do (Node caches a resolution per requiring module).
 * Any other base still gets Node's own `createRequire`.
 */
/* global __clocksource_bundle_url */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";

const NATIVE = "@clocksource/native";
const NATIVE_DIR = join("node_modules", "@clocksource", "native");
/** The file the native package's `exports` give `require` (its package.json: "." → require → default). */
const NATIVE_MAIN = join("dist", "index.js");

/**
 * Where `require("@clocksource/native")` would lead from the bundle, found the
 * way Node looks for a package (each directory's node_modules, from the
 * bundle's own up to the root; the first that has the package is the one)
 * but without reading the package's `exports`: for that, Node compiles part
 * of its ES module resolver, 5 ms of every command that reads a counter. Null
 * where no node_modules above has it, or where the package found is not laid
 * out as this one (then Node resolves it, NODE_PATH included). A path, like a
 * name, leads to the same module: Node keys modules by their real path.
 */
function nativeMain() {
  for (let dir = __dirname; ; ) {
    if (basename(dir) !== "node_modules" && existsSync(join(dir, NATIVE_DIR, "package.json"))) {
      const file = join(dir, NATIVE_DIR, NATIVE_MAIN);
      return existsSync(file) ? file : null;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let nativeFile;
function bundleRequire(id) {
  if (id === NATIVE) {
    nativeFile ??= nativeMain() ?? id;
    return require(nativeFile);
  }
  return require(id);
}
bundleRequire.resolve = require.resolve;
bundleRequire.cache = require.cache;

export function createRequire(from) {
  return from === __clocksource_bundle_url ? bundleRequire : process.getBuiltinModule("node:module").createRequire(from);
}
