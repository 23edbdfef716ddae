// Shared by the trace benchmarks (not a benchmark itself: bench/run.mjs runs *.bench.mjs):
// recording trace.dat files of our own in tracefs instances, and extracting them.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
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

/**
 * Records `events` trace_marker writes (texts `${text} ${i}`) plus sched_switch into a fresh
 * instance with the `mono` clock and extracts it to `out` (v7 zstd, as trace-cmd extract
 * writes it). The instance and `scratch` are removed in every case.
 */
export function recordMarkers(events, text, out, scratch) {
  const name = `clocksource-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const inst = join(TRACEFS, "instances", name);
  mkdirSync(inst);
  try {
    // About 48 bytes per marker event; all may land on one CPU.
    writeFileSync(join(inst, "buffer_size_kb"), String(Math.ceil((events * 64) / 1024) + 4096));
    writeFileSync(join(inst, "trace_clock"), "mono");
    writeFileSync(join(inst, "events/sched/sched_switch/enable"), "1");
    writeFileSync(join(inst, "tracing_on"), "1");
    const fd = openSync(join(inst, "trace_marker"), "w");
    try {
      for (let i = 0; i < events; i++) writeSync(fd, `${text} ${i}`);
    } finally {
      closeSync(fd);
    }
    writeFileSync(join(inst, "tracing_on"), "0");
    extractInstance(name, out, scratch);
  } finally {
    if (existsSync(inst)) {
      try {
        writeFileSync(join(inst, "tracing_on"), "0");
      } catch {
        // gone already
      }
      rmdirSync(inst);
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}
