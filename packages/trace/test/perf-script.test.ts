import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isClocksourceError } from "@clocksource/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/model/event.js";
import { perfDataFormat } from "../src/readers/perf-data/index.js";
import { perfScriptFormat } from "../src/readers/perf-script/index.js";
import { formatPrevState, KNOWN_WORKLOAD, perfRecord, perfStatus } from "./support/perf-record.js";
import { DATA_DIR, readTrace } from "./support/text-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "perf-script-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = join(tmp, `s${++n}.txt`);
  writeFileSync(p, text);
  return p;
}
const read = (text: string, options: Parameters<typeof readTrace>[1] = {}) => readTrace(file(text), { format: "perf-script", ...options });

async function binary(path: string): Promise<TraceEvent[]> {
  const r = await perfDataFormat.open(path, {});
  const out: TraceEvent[] = [];
  try {
    for await (const b of r.batches()) out.push(...b);
  } finally {
    await r.close();
  }
  return out;
}

/** Which of our fields carry what perf script printed: what both sides name alike. */
function sameFields(text: TraceEvent, bin: TraceEvent): string[] {
  const bad: string[] = [];
  for (const [k, v] of Object.entries(text.fields)) {
    if (k === "text" || k === "sym" || k === "dso" || k === "period") continue;
    const b = bin.fields[k];
    if (b === undefined) continue;
    if (k === "prev_state") {
      if (formatPrevState(BigInt(b as number | bigint)) !== v) bad.push(`${k} ${String(v)} vs ${String(b)}`);
    } else if ((v === "true" || v === "false") && typeof b === "number") {
      // perf prints bool fields as true/false.
      if ((b !== 0) !== (v === "true")) bad.push(`${k} ${v} vs ${b}`);
    } else if (typeof b === "number" || typeof b === "bigint") {
      if (typeof v !== "number" && typeof v !== "bigint") bad.push(`${k} ${String(v)} vs ${String(b)}`);
      else if (BigInt(v) !== BigInt(b) && BigInt.asUintN(64, BigInt(v)) !== BigInt.asUintN(64, BigInt(b))) bad.push(`${k} ${v} vs ${b}`);
    } else if (typeof b === "string" && b !== v) bad.push(`${k} ${JSON.stringify(v)} vs ${JSON.stringify(b)}`);
  }
  return bad;
}

const samples = (es: TraceEvent[]) => es.filter((e) => !e.name.startsWith("perf:") && e.name !== "lost");
const taskKey = (e: TraceEvent) => `${e.name} ${e.ts} ${e.pid}/${e.tid} ${e.name === "perf:comm" ? String(e.fields.comm) : `${String(e.fields.ppid)}:${String(e.fields.ptid)}`}`;

/** Our events from perf script text against our events from the perf.data it was printed from. */
function compare(text: TraceEvent[], bin: TraceEvent[], o: { usec?: boolean; cpu?: boolean; pid?: boolean; comm?: boolean; tasks?: boolean } = {}): void {
  const t = samples(text);
  const b = samples(bin)
    .map((e) => (o.usec ? { ...e, ts: (e.ts / 1000n) * 1000n } : e))
    .map((e, i) => ({ e, i }))
    .sort((x, y) => (x.e.ts < y.e.ts ? -1 : x.e.ts > y.e.ts ? 1 : (o.cpu === false ? 0 : x.e.cpu - y.e.cpu) || x.i - y.i))
    .map((x) => x.e);
  expect(t.length).toBe(b.length);
  const bad: string[] = [];
  for (let i = 0; i < b.length && bad.length < 10; i++) {
    const x = t[i] as TraceEvent;
    const y = b[i] as TraceEvent;
    const what: string[] = [];
    if (x.ts !== y.ts) what.push(`ts ${x.ts} vs ${y.ts}`);
    if (x.name !== y.name) what.push(`name ${x.name} vs ${y.name}`);
    if (x.tid !== y.tid) what.push(`tid ${x.tid} vs ${y.tid}`);
    if (o.cpu !== false && x.cpu !== y.cpu) what.push(`cpu ${x.cpu} vs ${y.cpu}`);
    if (o.pid !== false && x.pid !== y.pid) what.push(`pid ${x.pid} vs ${y.pid}`);
    if (o.comm !== false && y.comm !== null && x.comm !== y.comm) what.push(`comm ${x.comm} vs ${y.comm}`);
    what.push(...sameFields(x, y));
    if (what.length > 0) bad.push(`event ${i} (${y.name} at ${y.ts}): ${what.join("; ")}`);
  }
  expect(bad).toEqual([]);
  if (o.tasks) {
    const kinds = new Set(["perf:comm", "perf:fork", "perf:exit"]);
    expect(text.filter((e) => kinds.has(e.name)).map(taskKey).sort()).toEqual(bin.filter((e) => kinds.has(e.name)).map(taskKey).sort());
  }
}

describe("perf script lines", () => {
  it("reads the default layout: comm tid [cpu] time: [period] event: trace or ip sym (dso)", async () => {
    const r = await read(
      [
        "            perf 11907 [000]   622.841662358: sched:sched_switch: prev_comm=perf prev_pid=11907 prev_prio=120 prev_state=D ==> next_comm=migration/0 next_pid=18 next_prio=0",
        "         swapper     0 [000]   622.841775412:     100000          cpu-clock:  ffffffff8225f7a5 pvm_safe_halt_hc+0x15 ([kernel.kallsyms])",
        "     Web Content  4242 [001]   622.841775413:     100000          cpu-clock:      7f8e4af162ad read+0xd (/usr/lib/x86_64-linux-gnu/libc.so.6)",
        "\t    ffffffff8225f7a5 pvm_safe_halt_hc+0x15 ([kernel.kallsyms])",
        "",
        "            perf 11907/11908 [001]   622.841775414: probe:do_sys_open: (ffffffff81234567)",
      ].join("\n"),
      { clock: "perf" },
    );
    expect(r.events.map((e) => [e.ts, e.cpu, e.pid, e.tid, e.comm, e.name])).toEqual([
      [622841662358n, 0, -1, 11907, "perf", "sched:sched_switch"],
      [622841775412n, 0, -1, 0, "swapper", "cpu-clock"],
      [622841775413n, 1, -1, 4242, "Web Content", "cpu-clock"],
      [622841775414n, 1, 11907, 11908, "perf", "probe:do_sys_open"],
    ]);
    expect(r.events[0]?.fields).toEqual({ prev_comm: "perf", prev_pid: 11907, prev_prio: 120, prev_state: "D", next_comm: "migration/0", next_pid: 18, next_prio: 0 });
    expect(r.events[1]?.fields).toEqual({ period: 100000, ip: 0xffffffff8225f7a5n, sym: "pvm_safe_halt_hc+0x15", dso: "[kernel.kallsyms]" });
    expect(r.events[2]?.fields).toEqual({ period: 100000, ip: 0x7f8e4af162ad, sym: "read+0xd", dso: "/usr/lib/x86_64-linux-gnu/libc.so.6" });
    expect(r.info.clock).toEqual({ name: "perf", unit: "ns", source: "--clock" });
    expect(r.warnings).toEqual([expect.stringContaining("1 callchain line(s) skipped")]);
  });

  it("reads the header's clock and CPU count, and perf's task events", async () => {
    const r = await read(
      [
        "# ========",
        "# captured on    : Wed Dec  2 05:22:02 2026",
        "# hostname : vm",
        "# nrcpus avail : 4",
        "# clockid: monotonic (1)",
        "# reference time: 2026-12-02 05:22:02.224777 = 1796188922.224777 (TOD) = 816.665192489 (monotonic)",
        "# ========",
        "#",
        "         swapper     0 [000]     0.000000000: PERF_RECORD_FORK(1:1):(0:0)",
        "              sh 29951/29951 [001]  1359.829395234: PERF_RECORD_COMM exec: sh:29951/29951",
        "              sh 29951/29951 [001]  1359.829395235: PERF_RECORD_EXIT(29951:29951):(1:1)",
      ].join("\n"),
    );
    expect(r.info.clock).toEqual({ name: "CLOCK_MONOTONIC", unit: "ns", source: "perf script --header (clockid)" });
    expect(r.info.cpuCount).toBe(4);
    expect(r.info.timeRecords).toEqual({ perfClockId: 1, perfClockData: { clockId: 1, wallClockNs: 1796188922224777000n, clockIdTimeNs: 816665192489n } });
    expect(r.info.properties?.referenceTimePrecision).toMatch(/µs/);
    expect(r.info.properties?.hostname).toBe("vm");
    expect(r.events.map((e) => [e.name, e.fields])).toEqual([
      ["perf:fork", { pid: 1, tid: 1, ppid: 0, ptid: 0 }],
      ["perf:comm", { pid: 29951, tid: 29951, comm: "sh", exec: 1 }],
      ["perf:exit", { pid: 29951, tid: 29951, ppid: 1, ptid: 1 }],
    ]);
  });

  it("reads chosen fields (-F): time only is enough; says what is missing", async () => {
    const r = await read(["  622.841662358: sched:sched_switch: prev_comm=a prev_pid=1", "11907   622.841662359: sched:sched_switch: "].join("\n"));
    expect(r.events.map((e) => [e.ts, e.cpu, e.tid, e.comm, e.name])).toEqual([
      [622841662358n, -1, -1, null, "sched:sched_switch"],
      [622841662359n, -1, 11907, null, "sched:sched_switch"],
    ]);
    expect(r.warnings).toEqual(expect.arrayContaining([expect.stringContaining("no cpu or tid field"), expect.stringContaining("does not name its clock")]));
    const us = await read("            perf 11907 [000]   622.841662: sched:sched_switch: \n");
    expect(us.events[0]?.ts).toBe(622841662000n);
    expect(us.warnings).toEqual(expect.arrayContaining([expect.stringContaining("fewer than 9 decimals")]));
    expect(us.info.properties?.timestampPrecision).toBe("printed with 6 decimals: ns digits are not in the text");
  });

  it("names the fields it needs when the first line has no time", async () => {
    await expect(read("            perf 11907 [000] sched:sched_switch: prev_comm=a\n")).rejects.toSatisfy(
      (e: unknown) => isClocksourceError(e, "INVALID_TRACE") && /line 1: no time field; perf script text needs the time field.*-F comm,pid,tid,cpu,time/.test((e as Error).message),
    );
    const later = await read("  1.000000001: a: \nnot a sample line\n");
    expect(later.warnings).toEqual(expect.arrayContaining([expect.stringContaining("line 2: not a perf script sample line")]));
  });

  it("detects perf script text by content", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(perfScriptFormat.detect(enc("            perf 11907 [000]   622.841662358: sched:sched_switch: prev_comm=perf\n"))).toBe(true);
    expect(perfScriptFormat.detect(enc("# ========\n# captured on    : Wed Dec  2 05:22:02 2026\n"))).toBe(true);
    expect(perfScriptFormat.detect(enc("            grep-10962   [000] d..2. 2138495029801788: sched_switch: prev_comm=grep\n"))).toBe(false);
    expect(perfScriptFormat.detect(enc("hello world\n"))).toBe(false);
  });

  it("never crashes or hangs on mangled text (fuzz)", async () => {
    const seed = readFileSync(join(DATA_DIR, "perf-sched-mono.script.txt"), "utf8").split("\n").slice(0, 30);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 29 }), fc.nat({ max: 160 }), fc.string({ maxLength: 4 })), { maxLength: 10 }),
        fc.array(fc.string({ maxLength: 80 }), { maxLength: 4 }),
        fc.nat({ max: 5000 }),
        async (flips, junk, spaces) => {
          const lines = [...seed];
          for (const [li, at, s] of flips) {
            const l = lines[li] ?? "";
            lines[li] = l.slice(0, at) + s + l.slice(at + s.length);
          }
          lines.push(...junk, `${" ".repeat(spaces)}x ${" ".repeat(spaces)}[1]${" ".repeat(spaces)}1.5: a: ${"1 ".repeat(spaces)}`);
          try {
            const r = await read(lines.join("\n"));
            expect(r.warnings.length).toBeLessThanOrEqual(101);
          } catch (e) {
            if (!isClocksourceError(e)) throw e;
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("committed perf script text against the perf.data it was printed from", () => {
  for (const name of ["perf-sched-mono", "perf-cpu-clock", "perf-pipe", "perf-switch-all"]) {
    it(`${name}: every sample and task event`, async () => {
      const text = await readTrace(join(DATA_DIR, `${name}.script.txt`));
      expect(text.info.format).toBe("perf-script");
      compare(text.events, await binary(join(DATA_DIR, `${name}.data`)), { tasks: true });
    });
  }
});

const status = perfStatus();
if (!status.ok) console.log(`perf-script: live perf recordings skipped: ${status.reason}`);

describe.skipIf(!status.ok)("perf script text of a perf.data recorded now", () => {
  const data = join(tmp, "live.data");
  const script = (args: string[]) => {
    const r = spawnSync("perf", ["script", "-i", data, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`perf script ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

  it("every field choice perf offers reads back to the same events", async () => {
    perfRecord({ out: data, events: ["sched:sched_switch", "sched:sched_process_exec", "cpu-clock"], options: ["-k", "CLOCK_MONOTONIC", "-c", "1000000", "--sample-cpu"], workload: KNOWN_WORKLOAD });
    const bin = await binary(data);
    expect(samples(bin).length).toBeGreaterThan(10);
    const cases: [string[], Parameters<typeof compare>[2]][] = [
      [["--ns"], { pid: false }],
      [["--ns", "--header"], { pid: false }],
      [["--ns", "-F", "+pid"], {}],
      [["--ns", "-F", "trace:tid,cpu,time,event,trace", "-F", "sw:tid,cpu,time,event,ip,sym"], { pid: false, comm: false }],
      [["--ns", "-F", "trace:comm,tid,time,event,trace", "-F", "sw:comm,tid,time,event,ip"], { pid: false, cpu: false }],
      [[], { pid: false, usec: true }],
    ];
    for (const [args, o] of cases) {
      const t = await read(script(args), { reorderWindow: 1 << 20 });
      compare(t.events, bin, o);
      if (args.includes("--header")) expect(t.info.clock.name).toBe("CLOCK_MONOTONIC");
    }
  }, 120_000);
});
