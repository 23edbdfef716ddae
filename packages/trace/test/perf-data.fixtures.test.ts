/**
 * Re-records the committed perf.data files and the `perf script` text beside
 * them. Runs only when asked (CLOCKSOURCE_REGEN_PERF_DATA=1), as root with perf:
 * the committed files are what the other tests read where perf is absent.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMPARE_ARGS } from "./support/perf-compare.js";
import { KNOWN_WORKLOAD, perfRecord, perfScript, perfStatus } from "./support/perf-record.js";

const DATA = join(__dirname, "data");
const asked = process.env.CLOCKSOURCE_REGEN_PERF_DATA === "1";
const status = perfStatus();
if (!asked) console.log("perf-data.fixtures: skipped (set CLOCKSOURCE_REGEN_PERF_DATA=1 to re-record the committed perf.data files)");
else if (!status.ok) console.log(`perf-data.fixtures: skipped: ${status.reason}`);

/** The committed recordings: name → how it was recorded. */
const FIXTURES = {
  /** Tracepoints of a known workload on two CPUs, on CLOCK_MONOTONIC (HEADER_CLOCKID, HEADER_CLOCK_DATA). */
  "perf-sched-mono": { events: ["sched:sched_switch", "sched:sched_process_exec", "sched:sched_process_fork", "sched:sched_process_exit"], options: ["-k", "CLOCK_MONOTONIC"], workload: KNOWN_WORKLOAD },
  /** cpu-clock samples of two busy loops (one per CPU), every 1 ms. */
  "perf-cpu-clock": { events: ["cpu-clock"], options: ["-c", "1000000", "--sample-cpu"], workload: KNOWN_WORKLOAD },
  /** Pipe mode: attrs, features and tracing data as records in the stream; tracepoints and samples mixed. */
  "perf-pipe": { events: ["sched:sched_process_exec", "sched:sched_process_fork", "cpu-clock"], options: ["-c", "1000000", "--sample-cpu"], workload: KNOWN_WORKLOAD, pipe: true },
  /** perf record -z: the kernel's records in zstd-compressed COMPRESSED records (one stream for the file). */
  "perf-zstd": { events: ["sched:sched_switch", "sched:sched_process_exec", "cpu-clock"], options: ["-z", "-c", "2000000", "--sample-cpu"], workload: KNOWN_WORKLOAD },
  /** System-wide context switches (every CPU), threads named by synthesized COMM records only. */
  "perf-switch-all": { events: ["sched:sched_switch"], options: ["-a", "--synth=task"], workload: ["sleep", "0.02"] },
} as const;

describe.skipIf(!asked || !status.ok)("committed perf.data fixtures", () => {
  for (const [name, f] of Object.entries(FIXTURES)) {
    it(`records ${name}`, () => {
      const out = join(DATA, `${name}.data`);
      perfRecord({ out, events: f.events, options: f.options, workload: f.workload, pipe: "pipe" in f && f.pipe });
      const text = perfScript(out, COMPARE_ARGS);
      writeFileSync(join(DATA, `${name}.script.txt`), text);
      expect(text.length).toBeGreaterThan(0);
    });
  }
});
