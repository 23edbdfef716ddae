#!/usr/bin/env node
// Runs every package's benchmark (packages/*/bench/bench.mjs) in turn, then the
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
  const p = join(root, "packages", pkg, "bench", "bench.mjs");
  if (existsSync(p)) scripts.push({ name: pkg, path: p });
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
