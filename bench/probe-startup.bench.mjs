// Cold start of `clocksource probe --json` next to `node -e ""` on the same
// machine, in the same run. The ratio is the figure (goal ≤ 3×).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "packages/cli/bin/clocksource.js");
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 15);

function time(args) {
  const samples = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    if (i >= 2) samples.push(dt); // the first runs warm the page cache
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
}

// Interleave so that load on this shared machine hits both alike.
const base = time(["-e", ""]);
const probe = time([bin, "probe", "--json"]);
const fmt = (x) => `${x.median.toFixed(1)} ms median, ${x.min.toFixed(1)} ms min`;
console.log(`node -e ""                  ${fmt(base)}  (${RUNS} runs)`);
console.log(`clocksource probe --json    ${fmt(probe)}`);
console.log(`ratio (median)              ${(probe.median / base.median).toFixed(2)}x   goal <= 3x`);
