// Shared by the trace benchmarks (not a benchmark itself: bench/run.mjs runs *.bench.mjs).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TRACEFS = "/sys/kernel/tracing";

/**
 * `trace-cmd extract` of one of our tracefs instances into `out`, in a private
 * mount namespace where trace-cmd sees the instance's trace_clock as the top
 * level's (trace-cmd 3.1 names the top level's clock for every buffer) and
 * empty top-level per-CPU buffers (it would otherwise drain the machine's
 * global buffer). `scratch` is a directory for the stand-in files.
 */
export function extractInstance(name, out, scratch) {
  const perCpu = join(scratch, "per_cpu");
  for (const cpu of readdirSync(join(TRACEFS, "per_cpu"))) {
    mkdirSync(join(perCpu, cpu), { recursive: true });
    writeFileSync(join(perCpu, cpu, "trace_pipe_raw"), "");
    writeFileSync(join(perCpu, cpu, "stats"), readFileSync(join(TRACEFS, "per_cpu", cpu, "stats")));
  }
  const inst = join(TRACEFS, "instances", name);
  const r = spawnSync("unshare", ["-m", "sh", "-c", `mount --bind '${inst}/trace_clock' '${TRACEFS}/trace_clock' && mount --bind '${perCpu}' '${TRACEFS}/per_cpu' && trace-cmd extract -B '${name}' -o '${out}'`], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`trace-cmd extract: ${r.error?.message ?? r.stderr}`);
}
