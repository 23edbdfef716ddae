#!/usr/bin/env node
/**
 * Builds the prebuilt addons shipped inside the package (run by `prepack`):
 * `prebuilds/linux-x64/` natively and `prebuilds/linux-arm64/` with Debian's
 * cross compiler (`gcc-aarch64-linux-gnu`), both with prebuildify against the
 * Node-API headers, so neither depends on the installing machine's compiler.
 *
 * The build runs in a scratch copy of the sources: prebuildify builds in
 * `./build`, which would otherwise replace this checkout's own (host) build.
 *
 * Usage: node scripts/prebuild.mjs [--require-all] [--out DIR]
 *   --require-all  fail unless every target was built (implied by `npm publish`);
 *                  without it a missing cross compiler is one line of notice.
 *   --out DIR      write DIR/prebuilds/... instead of into this package.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
// Publishing must not ship a package that silently lacks one of its architectures.
const requireAll = args.includes("--require-all") || process.env.npm_command === "publish";
const outIndex = args.indexOf("--out");
const outDir = outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1] : pkgDir;
const require = createRequire(import.meta.url);

/** Where node-gyp is: npm's own when run from an npm script, else npm's bundled copy beside node. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), "../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"), "/usr/share/nodejs/npm/node_modules/node-gyp/bin/node-gyp.js"];
  return candidates.find((p) => p && existsSync(p));
}

function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

const TARGETS = [
  {
    arch: "x64",
    host: process.arch === "x64",
    cross: "x86_64-linux-gnu-gcc",
    env: { CC: "x86_64-linux-gnu-gcc", CXX: "x86_64-linux-gnu-g++", LINK: "x86_64-linux-gnu-gcc", AR: "x86_64-linux-gnu-ar", PREBUILD_STRIP_BIN: "x86_64-linux-gnu-strip" },
  },
  {
    arch: "arm64",
    host: process.arch === "arm64",
    cross: "aarch64-linux-gnu-gcc",
    env: { CC: "aarch64-linux-gnu-gcc", CXX: "aarch64-linux-gnu-g++", LINK: "aarch64-linux-gnu-gcc", AR: "aarch64-linux-gnu-ar", PREBUILD_STRIP_BIN: "aarch64-linux-gnu-strip" },
  },
];

async function build(target) {
  const gyp = nodeGyp();
  if (!gyp) return `node-gyp not found (run from npm, or install npm's node-gyp)`;
  if (!target.host && !onPath(target.cross)) return `no cross compiler ${target.cross} (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross, or gcc-x86-64-linux-gnu on arm64)`;
  const scratch = mkdtempSync(join(tmpdir(), `clocksource-prebuild-${target.arch}-`));
  try {
    cpSync(join(pkgDir, "binding.gyp"), join(scratch, "binding.gyp"));
    cpSync(join(pkgDir, "csrc"), join(scratch, "csrc"), { recursive: true });
    cpSync(join(pkgDir, "package.json"), join(scratch, "package.json"));
    const env = { ...process.env, ...(target.host ? {} : target.env) };
    // node-gyp reads the headers from here instead of downloading them (no network needed).
    if (!env.npm_config_nodedir && existsSync("/usr/include/node/node_api.h")) env.npm_config_nodedir = "/usr";
    const prebuildify = require("prebuildify");
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await new Promise((resolve, reject) =>
        prebuildify(
          { cwd: scratch, out: outDir, arch: target.arch, napi: true, strip: true, stripBin: env.PREBUILD_STRIP_BIN ?? "strip", tagLibc: true, nodeGyp: gyp, quiet: !process.env.CLOCKSOURCE_PREBUILD_VERBOSE, targets: [] },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    return null;
  } catch (e) {
    return `build failed: ${String(e?.message ?? e).split("\n")[0]}`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

rmSync(join(outDir, "prebuilds"), { recursive: true, force: true });
mkdirSync(join(outDir, "prebuilds"), { recursive: true });
let missing = 0;
for (const t of TARGETS) {
  const why = await build(t);
  if (why) {
    missing++;
    console.error(`[@clocksource/native] no linux-${t.arch} prebuild: ${why}`);
  } else {
    const dir = join(outDir, "prebuilds", `linux-${t.arch}`);
    console.error(`[@clocksource/native] prebuilt ${readdirSync(dir).map((f) => `linux-${t.arch}/${f}`).join(", ")}`);
  }
}
if (missing > 0 && requireAll) {
  console.error(`[@clocksource/native] ${missing} prebuild(s) missing; refusing to publish without them`);
  process.exit(1);
}
