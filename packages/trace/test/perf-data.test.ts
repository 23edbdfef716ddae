/**
 * perf.data read back event for event like `perf script` reads it: the
 * committed recordings (always) and fresh ones made here (as root with perf;
 * skipped with the reason otherwise).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/model/event.js";
import { perfDataFormat } from "../src/readers/perf-data/index.js";
import { COMPARE_ARGS, compareTaskEvents, compareWithScript, readAll, samplesOf } from "./support/perf-compare.js";
import { KNOWN_WORKLOAD, perfRecord, perfScript, perfStatus } from "./support/perf-record.js";

const DATA = join(__dirname, "data");
const FIXTURES = ["perf-sched-mono", "perf-cpu-clock", "perf-pipe", "perf-switch-all", "perf-zstd"];

function cpusOf(events: readonly TraceEvent[]): Set<number> {
  return new Set(samplesOf(events).map((e) => e.cpu));
}

function isSorted(events: readonly TraceEvent[]): boolean {
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1] as TraceEvent;
    const b = events[i] as TraceEvent;
    if (a.ts > b.ts || (a.ts === b.ts && a.cpu > b.cpu)) return false;
  }
  return true;
}

describe("committed perf.data files", () => {
  for (const name of FIXTURES) {
    it(`${name}: every event equals perf script's, one for one`, async () => {
      const path = join(DATA, `${name}.data`);
      const text = readFileSync(join(DATA, `${name}.script.txt`), "utf8");
      const r = await readAll(path);
      expect(compareWithScript(r.events, text)).toEqual([]);
      expect(compareTaskEvents(r.events, text)).toEqual([]);
      expect(samplesOf(r.events).length).toBeGreaterThan(10);
      expect(isSorted(r.events)).toBe(true);
      expect(r.warnings).toEqual([]);
    });
  }

  it("detects perf.data by content", () => {
    const head = readFileSync(join(DATA, "perf-sched-mono.data")).subarray(0, 4096);
    expect(perfDataFormat.detect(head)).toBe(true);
    expect(perfDataFormat.detect(readFileSync(join(DATA, "perf-pipe.data")).subarray(0, 16))).toBe(true);
    expect(perfDataFormat.detect(new TextEncoder().encode("PERFILE"))).toBe(false);
    expect(perfDataFormat.detect(readFileSync(join(DATA, "perf-sched-mono.script.txt")).subarray(0, 4096))).toBe(false);
  });

  it("perf-sched-mono: CLOCK_MONOTONIC from the attr, CLOCK_DATA and the clock resolution, and the known workload's tracepoints", async () => {
    const r = await readAll(join(DATA, "perf-sched-mono.data"));
    expect(r.info.format).toBe("perf.data");
    expect(r.info.version).toBe("PERFILE2");
    expect(r.info.clock).toEqual({ name: "CLOCK_MONOTONIC", unit: "ns", source: "perf_event_attr.clockid" });
    expect(r.info.timeRecords.perfClockId).toBe(1);
    expect(r.info.timeRecords.perfClockData?.clockId).toBe(1);
    expect(r.info.timeRecords.perfClockData?.wallClockNs).toBeGreaterThan(1_600_000_000n * 1_000_000_000n);
    expect(r.info.timeRecords.perfClockResolutionNs).toBe(1n);
    // No TIME_CONV on this machine (cap_user_time is 0): none is invented.
    expect(r.info.timeRecords.perfTimeConv).toBeUndefined();
    expect(r.info.cpuCount).toBeGreaterThanOrEqual(2);
    expect(r.info.properties?.mode).toBe("file");
    expect(r.info.properties?.cmdline).toContain("perf record");
    const execs = r.events.filter((e) => e.name === "sched:sched_process_exec").map((e) => e.fields.filename);
    expect(execs).toEqual(expect.arrayContaining(["/bin/sh", "/bin/true", "/usr/bin/timeout"]));
    expect(execs.filter((f) => f === "/bin/true")).toHaveLength(2);
    const forks = r.events.filter((e) => e.name === "sched:sched_process_fork");
    expect(forks.length).toBeGreaterThanOrEqual(4);
    for (const f of forks) expect(f.fields.parent_comm).toBe(f.comm);
    // Every exec of /bin/true is preceded by a COMM record naming the thread "true".
    const trues = r.events.filter((e) => e.name === "sched:sched_process_exec" && e.fields.filename === "/bin/true");
    for (const e of trues) expect(e.comm).toBe("true");
    expect(cpusOf(r.events).size).toBeGreaterThanOrEqual(2);
  });

  it("perf-cpu-clock: software samples with their ip, named from HEADER_EVENT_DESC, on more than one CPU", async () => {
    const r = await readAll(join(DATA, "perf-cpu-clock.data"));
    const samples = samplesOf(r.events);
    expect(new Set(samples.map((e) => e.name))).toEqual(new Set(["cpu-clock"]));
    for (const e of samples) expect(typeof e.fields.ip).toBe("bigint");
    expect(cpusOf(r.events).size).toBeGreaterThanOrEqual(2);
    expect(r.info.clock).toEqual({ name: "perf", unit: "ns", source: "default" });
  });

  it("perf-pipe: pipe mode takes attrs, features and tracing data from the stream", async () => {
    const r = await readAll(join(DATA, "perf-pipe.data"));
    expect(r.info.properties?.mode).toBe("pipe");
    expect(new Set(samplesOf(r.events).map((e) => e.name))).toEqual(new Set(["sched:sched_process_exec", "sched:sched_process_fork", "cpu-clock"]));
    expect(r.events.some((e) => e.name === "sched:sched_process_exec" && e.fields.filename === "/bin/true")).toBe(true);
  });

  it("perf-zstd: perf record -z, zstd-compressed records decompressed as one stream", async () => {
    const r = await readAll(join(DATA, "perf-zstd.data"));
    expect(r.info.compression).toBe("zstd");
    expect(new Set(samplesOf(r.events).map((e) => e.name))).toEqual(new Set(["sched:sched_switch", "sched:sched_process_exec", "cpu-clock"]));
    const raw = readFileSync(join(DATA, "perf-zstd.data"));
    // The file really holds COMPRESSED records (type 81) and no plain SAMPLE records.
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const types = new Set<number>();
    const end = Number(v.getBigUint64(40, true)) + Number(v.getBigUint64(48, true));
    for (let p = Number(v.getBigUint64(40, true)); p + 8 <= end; p += v.getUint16(p + 6, true)) types.add(v.getUint32(p, true));
    expect(types.has(81)).toBe(true);
    expect(types.has(9)).toBe(false);
  });

  it("pipe mode: tracing data that arrives after the first sample still decodes the tracepoints", async () => {
    const b = new Uint8Array(readFileSync(join(DATA, "perf-pipe.data")));
    const v = new DataView(b.buffer);
    // Walk the records (HEADER_TRACING_DATA's block follows its record, outside its size).
    const recs: { at: number; len: number; type: number }[] = [];
    for (let p = 16; p + 8 <= b.length; ) {
      const type = v.getUint32(p, true);
      const size = v.getUint16(p + 6, true);
      const len = size + (type === 66 ? v.getUint32(p + 8, true) : 0);
      recs.push({ at: p, len, type });
      p += len;
    }
    const tracing = recs.findIndex((r) => r.type === 66);
    const firstSample = recs.findIndex((r) => r.type === 9);
    expect(tracing).toBeGreaterThanOrEqual(0);
    expect(tracing).toBeLessThan(firstSample);
    const order = recs.filter((_, i) => i !== tracing);
    order.splice(firstSample, 0, recs[tracing] as (typeof recs)[number]);
    const moved = new Uint8Array(b.length);
    moved.set(b.subarray(0, 16));
    let o = 16;
    for (const r of order) {
      moved.set(b.subarray(r.at, r.at + r.len), o);
      o += r.len;
    }
    const dir = mkdtempSync(join(tmpdir(), "clocksource-perf-late-"));
    try {
      writeFileSync(join(dir, "late.data"), moved);
      const late = await readAll(join(dir, "late.data"));
      const original = await readAll(join(DATA, "perf-pipe.data"));
      expect(late.events).toEqual(original.events);
      expect(late.warnings).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the same events whatever the batch size", async () => {
    const path = join(DATA, "perf-switch-all.data");
    const a = await readAll(path, 1);
    const b = await readAll(path, 7);
    const c = await readAll(path);
    expect(b.events).toEqual(a.events);
    expect(c.events).toEqual(a.events);
  });
});

const status = perfStatus();
if (!status.ok) console.log(`perf-data live recordings: skipped: ${status.reason}`);

describe.skipIf(!status.ok)("perf.data recorded now, compared with perf script on the same file", () => {
  // Made when the tests run (a skipped suite runs no hooks, so nothing to leave behind).
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "clocksource-perf-"));
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  async function recordAndCompare(name: string, events: string[], options: string[], workload: readonly string[], pipe = false): Promise<TraceEvent[]> {
    const out = join(dir, `${name}.data`);
    perfRecord({ out, events, options, workload, pipe });
    const text = perfScript(out, COMPARE_ARGS);
    const r = await readAll(out);
    expect(compareWithScript(r.events, text)).toEqual([]);
    expect(compareTaskEvents(r.events, text)).toEqual([]);
    expect(isSorted(r.events)).toBe(true);
    return r.events;
  }

  it("sched:sched_switch on every CPU (-a)", async () => {
    // The workload makes its own switches, whatever else the machine is doing: on each of
    // two CPUs (pinned), 25 short sleeps in a row, each one a fork, an exec and a nanosleep.
    const cpus = availableParallelism() >= 2 ? ["0", "1"] : ["0"];
    const chain = (cpu: string) => `taskset -c ${cpu} sh -c 'i=0; while [ $i -lt 25 ]; do sleep 0.001; i=$((i+1)); done'`;
    const workload = ["/bin/sh", "-c", `${cpus.map(chain).join(" & ")}; wait`];
    const ev = await recordAndCompare("switch", ["sched:sched_switch"], ["-a"], workload);
    const sleeps = samplesOf(ev).filter((e) => e.fields.prev_comm === "sleep");
    expect(sleeps.length).toBeGreaterThanOrEqual(25 * cpus.length);
    expect(new Set(sleeps.map((e) => e.cpu)).size).toBe(cpus.length);
  });

  it("cpu-clock samples of busy loops on two CPUs", async () => {
    const ev = await recordAndCompare("cpu-clock", ["cpu-clock"], ["-a", "-c", "200000"], KNOWN_WORKLOAD);
    expect(samplesOf(ev).length).toBeGreaterThan(100);
    expect(cpusOf(ev).size).toBeGreaterThanOrEqual(2);
  });

  it("-k CLOCK_MONOTONIC: exec and fork of known commands", async () => {
    const ev = await recordAndCompare("mono", ["sched:sched_process_exec", "sched:sched_process_fork", "sched:sched_switch"], ["-k", "CLOCK_MONOTONIC"], KNOWN_WORKLOAD);
    const trues = ev.filter((e) => e.name === "sched:sched_process_exec" && e.fields.filename === "/bin/true");
    expect(trues).toHaveLength(2);
    for (const e of trues) expect(e.comm).toBe("true");
  });

  it("perf record -z (zstd-compressed records)", async () => {
    const ev = await recordAndCompare("zstd", ["sched:sched_switch", "cpu-clock"], ["-a", "-z", "-c", "500000"], KNOWN_WORKLOAD);
    expect(samplesOf(ev).length).toBeGreaterThan(100);
  });

  it("pipe mode (perf record -o -)", async () => {
    const ev = await recordAndCompare("pipe", ["sched:sched_process_exec", "cpu-clock"], ["-c", "500000", "--sample-cpu"], KNOWN_WORKLOAD, true);
    expect(ev.filter((e) => e.name === "sched:sched_process_exec").length).toBeGreaterThanOrEqual(4);
  });
});
