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
export function createRequire(from) {
  return from === __clocksource_bundle_url ? require : process.getBuiltinModule("node:module").createRequire(from);
}
