#!/usr/bin/env node
/**
 * Bundles the command line so that it starts fast: Node 20 spends about 1 ms
 * per ES module it loads (resolving, reading, compiling, linking), and
 * `clocksource probe` used to load 180 of them. Each command becomes one
 * CommonJS file holding only its own code and what it imports (core, the
 * backend packages, trace, tsyringe), read and compiled lazily by V8:
 *
 *   packages/cli/bundle/cmd-<command>.cjs  one per command (`clocksource <command> ...`)
 *   packages/cli/bundle/version.cjs        `clocksource --version`
 *   packages/cli/bundle/main.cjs           everything else: help, unknown commands
 *   packages/cli/bundle/sync-child.js      the paravirtual probe's helper process
 *   packages/cli/bundle/THIRD-PARTY-NOTICES.txt  licences of the npm packages bundled
 *   packages/cli/bundle/<file>.v8cache     V8's code cache of the commands whose start-up
 *                                          counts (probe, convert, now; see bin/bundle-loader.cjs)
 *                                          — the probe's after one run of `probe --json` here
 *
 * bin/clocksource.cjs picks the file from the first argument; main.cjs loads
 * the command files beside it for `--help` (it holds no command of its own). The input is
 * the TypeScript build (`tsc -b` first: it emits the decorator metadata
 * tsyringe needs). The native addon stays outside (`@clocksource/native`, an
 * optional dependency, found from the bundle's own place at run time).
 *
 * Run by `npm run build`; `node scripts/bundle-cli.mjs` alone after `npx tsc -b`.
 */
import { build } from "esbuild";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(REPO, "packages/cli");
const DIST = join(CLI, "dist");
const OUT = join(CLI, "bundle");

if (!existsSync(join(DIST, "main.js"))) {
  console.error("bundle-cli: packages/cli/dist/main.js is missing: run `npx tsc -b` first");
  process.exit(1);
}

const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));
// Every workspace package's version, for `--version`, `probe` and the producers written into files.
const versions = {};
for (const dir of readdirSync(join(REPO, "packages"))) {
  const p = join(REPO, "packages", dir, "package.json");
  if (existsSync(p)) versions[readJson(p).name] = readJson(p).version;
}

const { commandNames } = await import(pathToFileURL(join(DIST, "main.js")).href);
const names = commandNames();

/** The source of each entry: a tiny module the bundler starts from (never written to disk). */
const entries = new Map();
const runner = JSON.stringify(join(DIST, "exit-status.js"));
// Each exports `main(argv, io)` for bin/clocksource.cjs; a command's file also exports the command
// itself (summary, help, run), which main.cjs and the completion command load from it.
for (const name of names) {
  const command = JSON.stringify(join(DIST, "commands", `${name}.js`));
  entries.set(
    `cmd-${name}`,
    `import { withExitStatus } from ${runner};\nimport { summary, help, run } from ${command};\nexport { summary, help, run };\nexport const main = (argv, io) => withExitStatus(io, () => run(argv.slice(1), io));\n`,
  );
}
entries.set(
  "version",
  `import { withExitStatus } from ${runner};\nimport { versionText } from ${JSON.stringify(join(DIST, "runtime-status.js"))};\nexport const main = (argv, io) => withExitStatus(io, async () => (io.stdout.write(await versionText()), 0));\n`,
);
entries.set("main", `export { main } from ${JSON.stringify(join(DIST, "main.js"))};\n`);

/** Serves the entries above from memory. */
const virtualEntries = {
  name: "entries",
  setup(b) {
    b.onResolve({ filter: /^entry:/ }, (a) => ({ path: a.path.slice("entry:".length), namespace: "entry" }));
    b.onLoad({ filter: /.*/, namespace: "entry" }, (a) => ({ contents: entries.get(a.path), resolveDir: DIST, loader: "js" }));
  },
};

/**
 * main.js loads every command (for `--help` and the completions): in a bundle it loads the
 * command's own file, cmd-<name>.cjs beside it, instead of holding a second copy of each.
 */
const commandsBeside = {
  name: "commands-beside",
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/[a-z0-9-]+\.js$/ }, (a) => {
      if (a.importer !== join(DIST, "main.js")) return undefined;
      return { path: `./cmd-${a.path.slice("./commands/".length, -".js".length)}.cjs`, external: true };
    });
  },
};

/** `node:module` in a CommonJS bundle is scripts/bundle-shims/node-module.mjs (why: there). */
const moduleShim = {
  name: "node-module-shim",
  setup(b) {
    b.onResolve({ filter: /^node:module$/ }, () => ({ path: join(REPO, "scripts/bundle-shims/node-module.mjs") }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node20.19",
  // Found at run time from where the bundle lies: node_modules/@clocksource/native beside the CLI.
  external: ["@clocksource/native"],
  define: { __CLOCKSOURCE_VERSIONS__: JSON.stringify(versions) },
  // Less to read and parse at start-up; identifiers are kept, so that an internal error's
  // stack (CLOCKSOURCE_DEBUG=1) still names the functions.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
};

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const cjs = await build({
  ...common,
  entryPoints: Object.fromEntries([...entries.keys()].map((k) => [k, `entry:${k}`])),
  outdir: OUT,
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  plugins: [virtualEntries, commandsBeside, moduleShim],
  // import.meta.url is where a module lies; in a bundle, the bundle's own file.
  define: { ...common.define, "import.meta.url": "__clocksource_bundle_url" },
  banner: { js: `"use strict";const __clocksource_bundle_url=require("node:url").pathToFileURL(__filename).href;` },
});
// The paravirtual probe runs this as a child process (it looks beside the module that spawns it).
const child = await build({
  ...common,
  entryPoints: { "sync-child": join(REPO, "packages/paravirt/dist/sync-child.js") },
  outdir: OUT,
  format: "esm",
});

// The npm packages whose code is inside, with their licence texts (MIT and Apache-2.0 ask for it).
const bundled = new Map();
for (const m of [cjs.metafile, child.metafile]) {
  for (const input of Object.keys(m.inputs)) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const rest = input.slice(at + "node_modules/".length).split("/");
    const pkgName = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    const dir = join(REPO, input.slice(0, at), "node_modules", pkgName);
    if (!bundled.has(pkgName) && existsSync(join(dir, "package.json"))) bundled.set(pkgName, dir);
  }
}
let notices = "Third-party code bundled into packages/cli/bundle, with each package's licence.\n";
for (const [pkgName, dir] of [...bundled].sort(([a], [b]) => a.localeCompare(b))) {
  if (pkgName.startsWith("@clocksource/")) continue;
  const pkg = readJson(join(dir, "package.json"));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  notices += `\n${"=".repeat(72)}\n${pkgName} ${pkg.version} (${pkg.license ?? "see below"})\n${"=".repeat(72)}\n`;
  notices += file ? readFileSync(join(dir, file), "utf8").trim() + "\n" : "(no licence file in the package)\n";
}
writeFileSync(join(OUT, "THIRD-PARTY-NOTICES.txt"), notices);

// V8's code cache of the commands people time or call in loops. The probe is run once, here,
// on this machine (it only reads), so that what its start-up compiles is in the cache too.
const { buildCache, CACHE_SUFFIX } = createRequire(import.meta.url)(join(CLI, "bin/bundle-loader.cjs"));
for (const [name, warm] of [["probe", ["probe", "--json"]], ["convert", null], ["now", null]]) {
  const file = join(OUT, `cmd-${name}.cjs`);
  if (!existsSync(file)) continue;
  let cache;
  try {
    cache = await buildCache(file, warm);
  } catch (e) {
    // A machine where the probe cannot run still gets the cache of the compiled module.
    console.log(`bundle-cli: cmd-${name}.cjs: the warming run failed (${String(e?.message ?? e).split("\n")[0]}); caching the module only`);
    cache = await buildCache(file, null);
  }
  writeFileSync(file + CACHE_SUFFIX, cache);
}

const sizes = readdirSync(OUT).map((f) => `${f} ${(readFileSync(join(OUT, f)).length / 1024).toFixed(0)} KiB`);
console.log(`bundle-cli: ${relative(REPO, OUT)}/: ${sizes.join(", ")}`);
