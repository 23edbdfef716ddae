// Shared by the trace benchmarks (not a benchmark itself: bench/run.mjs runs *.bench.mjs):
// recording trace.dat files of our own in tracefs instances. Extracting and removing
// instances is the tests' own code (test/support/tracefs-instances.mjs).
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { extractInstances, removeInstance, TRACEFS } from "../test/support/tracefs-instances.mjs";

export { extractInstances, removeInstance, TRACEFS };

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
    extractInstances([name], out, scratch);
  } finally {
    removeInstance(inst);
    rmSync(scratch, { recursive: true, force: true });
  }
}
