#!/usr/bin/env node
// Runs every package's benchmarks (packages/*/bench/bench.mjs and *.bench.mjs) in turn, then the
// repository-level ones (bench/*.bench.mjs). Each prints its own section; all
// figures are ratios against a baseline timed in the same run.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);
const scripts = [];
for (const pkg of readdirSync(join(root, "packages")).sort()) {
  const dir = join(root, "packages", pkg, "bench");
  if (!existsSync(dir)) continue;
  if (existsSync(join(dir, "bench.mjs"))) scripts.push({ name: pkg, path: join(dir, "bench.mjs") });
  // Further benchmarks of a package: packages/<pkg>/bench/<what>.bench.mjs, named <pkg>/<what>.
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith(".bench.mjs")) scripts.push({ name: `${pkg}/${f.replace(/\.bench\.mjs$/, "")}`, path: join(dir, f) });
  }
}
for (const f of readdirSync(join(root, "bench")).sort()) {
  if (f.endsWith(".bench.mjs")) scripts.push({ name: f.replace(/\.bench\.mjs$/, ""), path: join(root, "bench", f) });
}
let failed = 0;
for (const s of scripts) {
  if (only.length > 0 && !only.includes(s.name)) continue;
  console.log(`\n=== ${s.name} ===`);
  const r = spawnSync(process.execPath, ["--expose-gc", s.path], { stdio: "inherit", cwd: root });
  if (r.status !== 0) {
    failed++;
    console.log(`(${s.name} benchmark exited with ${r.status ?? r.signal})`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
