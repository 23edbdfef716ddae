import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { DependencyContainer } from "tsyringe";
import { UsageError } from "./cli-io.js";

/**
 * A module the user named with `--plugin` or `CLOCKSOURCE_PLUGINS` that adds
 * probes and backends: it exports `register(container)`, the same contract as
 * the architecture packages (`@clocksource/x86` …).
 */
export interface LoadedPlugin {
  /** As the user wrote it. */
  readonly spec: string;
  /** The file it resolved to. */
  readonly path: string;
  readonly register: (container: DependencyContainer) => unknown;
}

/**
 * The plugins to load: every `--plugin` value, then `CLOCKSOURCE_PLUGINS`
 * (comma-separated), without repeats. Flags come first, so their backends win
 * rating ties over the environment's (registration order breaks ties).
 */
export function pluginSpecs(flags: readonly string[] | undefined, env: Record<string, string | undefined>): string[] {
  const fromEnv = (env.CLOCKSOURCE_PLUGINS ?? "").split(",").map((s) => s.trim());
  const all = [...(flags ?? []).map((s) => s.trim()), ...fromEnv].filter((s) => s.length > 0);
  return [...new Set(all)];
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0] ?? "";
}

/**
 * Resolves a plugin the way the user means it: a path (`./x.mjs`, `/abs/x.js`)
 * from the working directory; a package name (`clocksource-plugin-foo`,
 * `@me/backend`) from the working directory's node_modules first, then from
 * beside the command line (a global install's siblings).
 */
function resolvePlugin(spec: string, cwd: string): string {
  const isPath = spec.startsWith(".") || isAbsolute(spec);
  if (isPath) return resolve(cwd, spec);
  const bases = [join(cwd, "noop.js"), import.meta.url];
  let last: unknown;
  for (const base of bases) {
    try {
      return createRequire(base).resolve(spec);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/**
 * Imports an ES module or CommonJS file by URL. The command line passes its own
 * (`CliIo.importModule`): a bundle loaded from V8's code cache is compiled as a
 * vm script, whose own `import()` Node 20 only allows through an experimental
 * loader.
 */
export type ModuleImporter = (url: string) => Promise<unknown>;

/**
 * Loads each plugin module and checks it exports `register`.
 * @throws UsageError (exit 2) naming the plugin when it cannot be found or
 *   loaded, or exports no `register` function
 */
export async function loadPlugins(specs: readonly string[], cwd: string = process.cwd(), importModule: ModuleImporter = (url) => import(url)): Promise<LoadedPlugin[]> {
  const out: LoadedPlugin[] = [];
  for (const spec of specs) {
    let path: string;
    try {
      path = resolvePlugin(spec, cwd);
    } catch (e) {
      throw new UsageError(`plugin ${JSON.stringify(spec)} not found: ${firstLine(e)}`);
    }
    let mod: { register?: unknown; default?: { register?: unknown } };
    try {
      mod = (await importModule(pathToFileURL(path).href)) as typeof mod;
    } catch (e) {
      throw new UsageError(`plugin ${JSON.stringify(spec)} failed to load: ${firstLine(e)}`);
    }
    // A CommonJS plugin's `module.exports = { register }` arrives as the default export.
    const register = typeof mod.register === "function" ? mod.register : mod.default?.register;
    if (typeof register !== "function") throw new UsageError(`plugin ${JSON.stringify(spec)} (${path}) exports no register(container) function`);
    out.push({ spec, path, register: register as LoadedPlugin["register"] });
  }
  return out;
}

/** Calls each plugin's `register(container)` in order, awaiting any it returns. */
export async function registerPlugins(container: DependencyContainer, plugins: readonly LoadedPlugin[]): Promise<void> {
  for (const p of plugins) {
    try {
      await p.register(container);
    } catch (e) {
      throw new UsageError(`plugin ${JSON.stringify(p.spec)}: register(container) threw: ${firstLine(e)}`);
    }
  }
}
