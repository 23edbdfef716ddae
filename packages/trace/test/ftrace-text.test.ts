import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isClocksourceError } from "@clocksource/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/model/event.js";
import { openTrace } from "../src/open.js";
import { ftraceTextFormat } from "../src/readers/ftrace-text/index.js";
import { traceDatFormat } from "../src/readers/trace-dat/index.js";
import { DATA_DIR, readTrace, REPORT_SOURCES, REPORT_VARIANTS, reportFixture, TRACEFS_TEXT, type Expectation } from "./support/text-fixtures.js";
import { recordTracefsText, tracefsTextSupport } from "./support/tracefs-text-record.js";
import { recordTraceDat, tracefsRecordSupport } from "./support/tracefs-record.js";

const tmp = mkdtempSync(join(tmpdir(), "ftrace-text-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = join(tmp, `t${++n}.txt`);
  writeFileSync(p, text);
  return p;
}
const read = (text: string, options: Parameters<typeof readTrace>[1] = {}) => readTrace(file(text), { format: "ftrace-text", ...options });
const brief = (e: TraceEvent) => ({ ts: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, comm: e.comm, name: e.name, buffer: e.buffer });

const traceCmd = spawnSync("trace-cmd", ["--version"]).error === undefined;

describe("ftrace text lines", () => {
  it("reads tracefs lines with the irq-info flags column, raw counter timestamps", async () => {
    const r = await read(
      [
        "# tracer: nop",
        "#",
        "# entries-in-buffer/entries-written: 3/3   #P:2",
        "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
        "            grep-10962   [000] d..2. 2138495029801788: sched_switch: prev_comm=grep prev_pid=10962 prev_prio=120 prev_state=R ==> next_comm=tokio-rt-worker next_pid=76 next_prio=110",
        " memfd:sealed-91-6755    [001] d..2. 2138495055723789: sched_switch: prev_comm=memfd:sealed-91 prev_pid=6755 prev_prio=120 prev_state=R+ ==> next_comm=Web Content next_pid=15 next_prio=120",
        "            bash-11127   [001] ...1. 2138495055723790: tracing_mark_write: hello world",
        "",
      ].join("\n"),
      { clock: "x86-tsc" },
    );
    expect(r.events.map(brief)).toEqual([
      { ts: 2138495029801788n, cpu: 0, pid: -1, tid: 10962, comm: "grep", name: "sched:sched_switch", buffer: "" },
      { ts: 2138495055723789n, cpu: 1, pid: -1, tid: 6755, comm: "memfd:sealed-91", name: "sched:sched_switch", buffer: "" },
      { ts: 2138495055723790n, cpu: 1, pid: -1, tid: 11127, comm: "bash", name: "ftrace:print", buffer: "" },
    ]);
    expect(r.events[0]?.fields).toEqual({ prev_comm: "grep", prev_pid: 10962, prev_prio: 120, prev_state: "R", next_comm: "tokio-rt-worker", next_pid: 76, next_prio: 110 });
    expect(r.events[1]?.fields.next_comm).toBe("Web Content");
    expect(r.events[2]?.fields).toEqual({ ip: "tracing_mark_write", buf: "hello world" });
    expect(r.info.cpuCount).toBe(2);
    expect(r.info.clock).toEqual({ name: "x86-tsc", unit: "ticks", source: "--clock" });
    expect(r.warnings).toEqual([]);
  });

  it("reads sec.usec timestamps exactly as ns, says so, and reads the tgid column", async () => {
    const r = await read(
      [
        "# tracer: nop",
        "#           TASK-PID       TGID    CPU#     TIMESTAMP  FUNCTION",
        "            bash-11127   (  11127) [000]    599.702526: tracing_mark_write: marker2",
        "          <idle>-0       (-------) [000]    599.705441: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=x next_pid=6745 next_prio=120",
        "           <...>-12      (     12) [001] 18446744073.709551: sched_waking: comm=a pid=1 prio=120 target_cpu=001",
      ].join("\n"),
    );
    expect(r.events.map((e) => [e.ts, e.pid, e.tid, e.comm])).toEqual([
      [599702526000n, 11127, 11127, "bash"],
      [599705441000n, -1, 0, "<idle>"],
      [18446744073709551000n, 12, 12, null],
    ]);
    expect(r.events[2]?.fields).toEqual({ comm: "a", pid: 1, prio: 120, target_cpu: 1 });
    // tracefs prints sec.usec only for ns clocks: ns, clock not named.
    expect(r.info.clock.unit).toBe("ns");
    expect(r.info.clock.name).toBeNull();
    expect(r.warnings.some((w) => w.includes("does not name its trace clock"))).toBe(true);
    expect(r.info.properties?.timestampPrecision).toMatch(/^1 µs: printed as sec\.usec/);
    expect(r.info.properties?.dialect).toBe("tracefs (trace, trace_pipe)");
  });

  it("reads trace-cmd report: buffer prefixes, -t, --raw-ts, -l, the sched plugin's layouts, print", async () => {
    const r = await read(
      [
        "cpus=2",
        "h7x3:             node-17302 [001]   889.506055: sched_wakeup:         rolldown-worker:17313 [120] CPU:001",
        "h7x3:  rolldown-worker-17314 [001]   889.505862187: sched_switch:         rolldown-worker:17314 [120] R ==> Web Content:17313 [120]",
        "h7explore2:             bash-13539 [001]2138720770921812: print:                tracing_mark_write: m3",
        "h7explore2:     bash-13539   1...1. 2138720.770922: print:                0xffffffff814aa7c1: a: b",
        "            bash-1 [000] 5.000000001: print:                 ip=0xffffffff814aa7c1 buf=raw text=x",
        "            bash-1 [000] 6.000000001: sched_waking:         a:1 [120] success=1 CPU:000",
      ].join("\n"),
      { reorderWindow: 1000 },
    );
    const byTs = new Map(r.events.map((e) => [e.ts, e]));
    expect(byTs.get(889506055000n)?.fields).toEqual({ comm: "rolldown-worker", pid: 17313, prio: 120, target_cpu: 1 });
    expect(byTs.get(889506055000n)?.buffer).toBe("h7x3");
    expect(byTs.get(889505862187n)?.fields).toEqual({ prev_comm: "rolldown-worker", prev_pid: 17314, prev_prio: 120, prev_state: "R", next_comm: "Web Content", next_pid: 17313, next_prio: 120 });
    expect(byTs.get(2138720770921812n)?.fields).toEqual({ ip: "tracing_mark_write", buf: "m3" });
    expect(byTs.get(2138720770922000n)).toMatchObject({ cpu: 1, tid: 13539, buffer: "h7explore2", fields: { ip: 0xffffffff814aa7c1n, buf: "a: b" } });
    expect(byTs.get(5000000001n)?.fields).toEqual({ ip: 0xffffffff814aa7c1n, buf: "raw text=x" });
    expect(byTs.get(6000000001n)?.fields).toEqual({ comm: "a", pid: 1, prio: 120, success: 1, target_cpu: 0 });
    expect(r.info.cpuCount).toBe(2);
    expect(r.info.buffers.map((b) => b.name)).toEqual(["", "h7explore2", "h7x3"]);
    // trace-cmd prints any clock's raw value as sec.frac: the unit is unknown until the user names the clock.
    expect(r.info.clock.unit).toBe("unknown");
    expect((await read("cpus=1\n  a-1 [000] 1.000000000: x: y\n", { clock: "x86-tsc" })).info.clock.unit).toBe("ticks");
  });

  it("reads function tracer lines, keeps unparsed text, skips stack lines with one warning", async () => {
    const r = await read(
      [
        "            bash-1   [000] ..... 10.000001: do_sys_open <-do_syscall_64",
        "            bash-1   [000] ..... 10.000002: vfs_read",
        " => __schedule",
        " => schedule",
        "            bash-1   [000] ..... 10.000003: kvm_exit: reason EXTERNAL_INTERRUPT rip 0xffffffff info 0 0",
        "            bash-1   [000] ..... 10.000004: sched_stat_runtime: comm=a pid=3 runtime=5014167 [ns] vruntime=2 [ns]",
      ].join("\n"),
    );
    expect(r.events.map((e) => [e.name, e.fields])).toEqual([
      ["ftrace:function", { ip: "do_sys_open", parent_ip: "do_syscall_64" }],
      ["ftrace:function", { ip: "vfs_read" }],
      ["kvm:kvm_exit", { text: "reason EXTERNAL_INTERRUPT rip 0xffffffff info 0 0" }],
      ["sched:sched_stat_runtime", { comm: "a", pid: 3, runtime: 5014167, vruntime: 2, text: "[ns] [ns]" }],
    ]);
    expect(r.warnings.filter((w) => w.includes("stack-trace line(s)"))).toEqual([expect.stringContaining("2 stack-trace line(s) skipped (first: line 3)")]);
  });

  it("turns lost-event notices into lost events at the time of the next event on their CPU", async () => {
    const r = await read(
      [
        "CPU:1 [LOST 17 EVENTS]",
        "            bash-1   [000] ..... 10.000001: x: a=1",
        "            bash-1   [001] ..... 10.000002: x: a=2",
        "CPU:0 [204600 EVENTS DROPPED]",
        "CPU:1 [EVENTS DROPPED]",
        "            bash-1   [000] ..... 10.000003: x: a=3",
      ].join("\n"),
    );
    expect(r.events.map((e) => [e.name, e.cpu, e.ts, e.fields])).toEqual([
      ["x", 0, 10000001000n, { a: 1 }],
      ["lost", 1, 10000002000n, { count: 17 }],
      ["x", 1, 10000002000n, { a: 2 }],
      ["lost", 0, 10000003000n, { count: 204600 }],
      ["x", 0, 10000003000n, { a: 3 }],
      // No event followed on CPU 1: the marker takes the last time seen.
      ["lost", 1, 10000003000n, {}],
    ]);
    expect(r.warnings.filter((w) => / lost .* events/.test(w))).toEqual([
      expect.stringContaining("line 1: CPU 1 lost 17 events"),
      expect.stringContaining("line 4: CPU 0 lost 204600 events"),
      expect.stringContaining("line 5: CPU 1 lost an unknown number of events"),
    ]);
  });

  it("warns, naming the line, for lines that are not events, and for overwritten events", async () => {
    const r = await read(["# entries-in-buffer/entries-written: 2/9   #P:4", "            bash-1   [000] ..... 10.000001: x: a=1", "garbage here", "  a-1 [000] 99999999999999999999: x: y", "CPU 1 is empty"].join("\n"));
    expect(r.events).toHaveLength(1);
    expect(r.warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining("line 3: not an ftrace event line"),
        expect.stringContaining("line 4: timestamp 99999999999999999999 is not a u64"),
        expect.stringContaining("overwrote 7 event(s)"),
      ]),
    );
  });

  it("refuses layouts without timestamps per event, naming them", async () => {
    await expect(read("# tracer: function_graph\n 0)   1.234 us    |  f();\n")).rejects.toThrow(/function_graph tracer's text layout is not supported/);
    await expect(read("# tracer: nop\n#\n# nop latency trace v1.1.5 on 6.1\n")).rejects.toThrow(/latency-format/);
  });

  it("puts lines out of order within the window in order, and fails beyond it after delivering what came first", async () => {
    const line = (ts: number, cpu = 0) => `            bash-1   [00${cpu}] ..... ${ts}.000000: x: a=${ts}`;
    const r = await read([line(3), line(1), line(2, 1), line(2, 0), line(4)].join("\n"));
    expect(r.events.map((e) => [e.ts / 1_000_000_000n, e.cpu])).toEqual([[1n, 0], [2n, 0], [2n, 1], [3n, 0], [4n, 0]]);
    const reader = await openTrace(file([line(10), line(11), line(12), line(13), line(1)].join("\n")), { format: "ftrace-text", reorderWindow: 1 });
    const seen: bigint[] = [];
    const err = await (async () => {
      for await (const b of reader.batches()) seen.push(...b.map((e) => e.ts / 1_000_000_000n));
    })().catch((e: unknown) => e);
    expect(isClocksourceError(err, "INVALID_TRACE")).toBe(true);
    expect((err as Error).message).toMatch(/line 5: timestamp 1000000000 is earlier than .* reorder window \(1 events\)/);
    expect(seen).toEqual([10n, 11n, 12n, 13n]);
  });

  it("refuses a line longer than 1 MiB with a typed error", async () => {
    await expect(read(`  a-1 [000] 1.000000: x: ${"y".repeat(1 << 20)}\n`)).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "INVALID_TRACE") && /line 1: longer than/.test((e as Error).message));
  });

  it("detects ftrace text by content and not perf script or JSON", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(ftraceTextFormat.detect(enc("# tracer: nop\n"))).toBe(true);
    expect(ftraceTextFormat.detect(enc("cpus=2\n"))).toBe(true);
    expect(ftraceTextFormat.detect(enc("            bash-11127   [001] ...1. 2138495055723790: tracing_mark_write: hi\n"))).toBe(true);
    expect(ftraceTextFormat.detect(enc("            perf 11907 [000]   622.841662358: sched:sched_switch: prev_comm=perf\n"))).toBe(false);
    expect(ftraceTextFormat.detect(enc('{"ts":"1"}\n'))).toBe(false);
    expect(ftraceTextFormat.detect(new Uint8Array([0x17, 0x08, 0x44, 0x74, 0, 0, 1]))).toBe(false);
  });

  it("never crashes, hangs or keeps unbounded warnings on mangled text (fuzz)", async () => {
    const seed = readFileSync(join(DATA_DIR, "text-tracefs-x86tsc.trace.txt"), "utf8").split("\n").slice(0, 40);
    const mutate = fc.record({
      drop: fc.array(fc.nat({ max: 39 }), { maxLength: 5 }),
      flips: fc.array(fc.tuple(fc.nat({ max: 39 }), fc.nat({ max: 200 }), fc.string({ maxLength: 3 })), { maxLength: 8 }),
      junk: fc.array(fc.string({ maxLength: 60 }), { maxLength: 4 }),
      spaces: fc.nat({ max: 3000 }),
    });
    await fc.assert(
      fc.asyncProperty(mutate, async (m) => {
        const lines = seed.filter((_, i) => !m.drop.includes(i));
        for (const [li, at, s] of m.flips) {
          const l = lines[li % lines.length] ?? "";
          lines[li % lines.length] = l.slice(0, at) + s + l.slice(at + s.length);
        }
        lines.push(...m.junk, `${" ".repeat(m.spaces)}a-1${" ".repeat(m.spaces)}x`);
        try {
          const r = await read(lines.join("\n"));
          expect(r.warnings.length).toBeLessThanOrEqual(101);
          for (let i = 1; i < r.events.length; i++) expect((r.events[i] as TraceEvent).ts >= (r.events[i - 1] as TraceEvent).ts).toBe(true);
        } catch (e) {
          if (!isClocksourceError(e)) throw e;
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("committed tracefs text (recorded on a machine; expectations from the kernel and the writers)", () => {
  for (const [name, how] of Object.entries(TRACEFS_TEXT)) {
    it(`${name}: every event the kernel counted, per CPU; every marker with its CPU, pid and text`, async () => {
      const path = join(DATA_DIR, name);
      const expect_ = JSON.parse(readFileSync(`${path}.expect.json`, "utf8")) as Expectation;
      const r = await readTrace(path, { clock: expect_.clock });
      expect(r.info.format).toBe("ftrace-text");
      const perCpu: Record<string, number> = {};
      for (const e of r.events) perCpu[e.cpu] = (perCpu[e.cpu] ?? 0) + 1;
      expect(perCpu).toEqual(expect_.entries);
      const prints = r.events.filter((e) => e.name === "ftrace:print");
      expect(prints.map((e) => ({ cpu: e.cpu, text: e.fields.buf, pid: e.tid }))).toEqual(expect_.markers);
      for (let i = 1; i < r.events.length; i++) expect((r.events[i] as TraceEvent).ts >= (r.events[i - 1] as TraceEvent).ts).toBe(true);
      expect(r.info.clock.unit).toBe(how.clock === "x86-tsc" ? "ticks" : "ns");
      expect(r.warnings).toEqual([]);
      if (how.traceOptions?.["record-tgid"]) for (const e of prints) expect(e.pid).toBe(e.tid);
      if (how.clock === "x86-tsc") expect(r.events.some((e) => e.ts % 1000n !== 0n)).toBe(true);
    });
  }
});

/** The raw value trace-cmd prints as `sec.usec`: rounded to the µs (tracefs truncates; trace-cmd rounds). */
const toUsec = (raw: bigint) => ((raw + 500n) / 1000n) * 1000n;

async function datEvents(path: string): Promise<{ events: TraceEvent[]; clock: string | null }> {
  const r = await traceDatFormat.open(path, {});
  const events: TraceEvent[] = [];
  try {
    for await (const b of r.batches()) events.push(...b);
  } finally {
    await r.close();
  }
  // The clock of the buffer the events are in (the top-level one may have none).
  const buffer = events[0]?.buffer ?? "";
  return { events, clock: (r.info.buffers.find((b) => b.name === buffer)?.clock ?? r.info.clock).name };
}

/** Our events from a report's text against our events from the trace.dat it was printed from. */
const COUNTER_CLOCKS = new Set(["x86-tsc", "counter", "uptime"]);

function compareReportWithDat(textAll: TraceEvent[], datAll: TraceEvent[], variant: string, datClock: string | null): void {
  // Lost-event markers: the same number per CPU (where in time each tool puts them differs).
  const lostOf = (es: TraceEvent[]) => es.filter((e) => e.name === "lost").map((e) => `${e.buffer}/${e.cpu}`).sort();
  expect(lostOf(textAll)).toEqual(lostOf(datAll));
  const text = textAll.filter((e) => e.name !== "lost");
  // trace-cmd prints counter clocks' raw values whole in every variant, and ns clocks as sec.usec
  // (rounded) without -t or --raw-ts; µs rounding makes ties, which are ordered by CPU.
  const usec = (variant === "default" || variant === "l") && datAll.length > 0 && !COUNTER_CLOCKS.has(datClock ?? "");
  const dat = datAll
    .filter((e) => e.name !== "lost")
    .map((e) => (usec ? { ...e, ts: toUsec(e.ts) } : e))
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.ts < b.e.ts ? -1 : a.e.ts > b.e.ts ? 1 : a.e.cpu - b.e.cpu || a.i - b.i))
    .map((x) => x.e);
  expect(text.length).toBe(dat.length);
  for (let i = 0; i < dat.length; i++) {
    const t = text[i] as TraceEvent;
    const d = dat[i] as TraceEvent;
    expect({ i, ts: t.ts, cpu: t.cpu, tid: t.tid, name: t.name, buffer: t.buffer }).toEqual({ i, ts: d.ts, cpu: d.cpu, tid: d.tid, name: d.name, buffer: d.buffer });
    // -l prints comms cut to 8 characters.
    if (d.comm !== null) expect(t.comm).toBe(variant === "l" ? d.comm.slice(0, 8) : d.comm);
    // With kallsyms the report names the ip's symbol; without, it prints the address.
    if (d.name === "ftrace:print") expect([typeof t.fields.ip === "string" ? d.fields.ip : t.fields.ip, t.fields.buf]).toEqual([d.fields.ip, String(d.fields.buf).replace(/\n$/, "")]);
    if (d.name === "sched:sched_switch") {
      for (const k of ["prev_comm", "prev_pid", "prev_prio", "next_comm", "next_pid", "next_prio"]) expect([k, t.fields[k]]).toEqual([k, d.fields[k]]);
    }
  }
}

describe("committed trace-cmd report text against the trace.dat it was printed from", () => {
  for (const dat of REPORT_SOURCES) {
    for (const variant of Object.keys(REPORT_VARIANTS)) {
      it(`${dat}: report ${variant}`, async () => {
        const text = await readTrace(reportFixture(dat, variant), { reorderWindow: 1 << 20 });
        const d = await datEvents(join(DATA_DIR, dat));
        compareReportWithDat(text.events, d.events, variant, d.clock);
      });
    }
    it(`${dat}: report --raw-ts -R (the .report.txt beside it): every field`, async () => {
      const text = await readTrace(join(DATA_DIR, `${dat}.report.txt`));
      const d = await datEvents(join(DATA_DIR, dat));
      compareReportWithDat(text.events, d.events, "raw-ts", d.clock);
      const mineAll = text.events.filter((e) => e.name !== "lost");
      const theirs = d.events.filter((e) => e.name !== "lost");
      for (let i = 0; i < theirs.length; i++) {
        for (const [k, v] of Object.entries((theirs[i] as TraceEvent).fields)) {
          const mine = (mineAll[i] as TraceEvent).fields[k];
          if (typeof v === "string") expect([k, mine]).toEqual([k, v.replace(/\n$/, "")]);
          else if (typeof v === "number" || typeof v === "bigint") expect([k, BigInt(mine as number)]).toEqual([k, BigInt(v)]);
        }
      }
    });
  }
});

const liveText = tracefsTextSupport();
const liveDat = tracefsRecordSupport("x86-tsc");
if (!liveText.ok) console.log(`ftrace-text: live tracefs recordings skipped: ${liveText.reason}`);
if (!liveDat.ok || !traceCmd) console.log(`ftrace-text: live trace-cmd report comparisons skipped: ${liveDat.ok ? "trace-cmd is not installed" : liveDat.reason}`);

describe.skipIf(!liveText.ok)("tracefs text recorded now", () => {
  for (const [clock, options] of [
    ["x86-tsc", {}],
    ["mono", { "irq-info": 0, "record-tgid": 1 }],
    ["local", { "irq-info": 1, "record-tgid": 1 }],
  ] as const) {
    it(`${clock}, ${JSON.stringify(options)}: trace and trace_pipe give the kernel's events`, async () => {
      const markers = [0, 1].flatMap((cpu) => [0, 1].map((i) => ({ cpu, text: `h7 live ${clock} cpu${cpu} #${i}` })));
      const rec = recordTracefsText({ clock, events: { "sched/sched_switch": "", "sched/sched_wakeup": "" }, traceOptions: options, markers, pipe: true });
      const fromTrace = await read(rec.trace, { clock });
      const fromPipe = await read(rec.pipe ?? "", { clock });
      const perCpu: Record<number, number> = {};
      for (const e of fromTrace.events) perCpu[e.cpu] = (perCpu[e.cpu] ?? 0) + 1;
      expect(perCpu).toEqual(rec.entries);
      expect(fromPipe.events.map(brief)).toEqual(fromTrace.events.map(brief));
      const prints = fromTrace.events.filter((e) => e.name === "ftrace:print");
      expect(prints.map((e) => ({ cpu: e.cpu, text: e.fields.buf, pid: e.tid }))).toEqual(rec.markers);
      expect(fromTrace.warnings).toEqual([]);
      expect(fromTrace.info.clock.unit).toBe(clock === "x86-tsc" ? "ticks" : "ns");
    }, 60_000);
  }
});

describe.skipIf(!liveDat.ok || !traceCmd)("trace-cmd report of a trace.dat recorded now, against our trace.dat reader", () => {
  for (const clock of ["x86-tsc", "mono"] as const) {
    it(`${clock}: every report variant, event for event`, async () => {
      const rec = recordTraceDat(tmp, `live-${clock}`, {
        clock,
        events: ["sched/sched_switch", "sched/sched_wakeup"],
        markers: [0, 1].map((cpu) => ({ cpu, text: `h7 dat ${clock} cpu${cpu}` })),
      });
      const { events: dat } = await datEvents(rec.v6);
      expect(dat.length).toBeGreaterThan(4);
      for (const [variant, args] of Object.entries({ ...REPORT_VARIANTS, R: ["--raw-ts", "-R"] })) {
        const out = spawnSync("trace-cmd", ["report", ...args, rec.v6], { encoding: "utf8", maxBuffer: 1 << 28 });
        expect(out.status).toBe(0);
        const text = await read(out.stdout, { reorderWindow: 1 << 20, clock });
        compareReportWithDat(text.events, dat, variant === "R" ? "raw-ts" : variant, clock);
        expect(text.info.clock.unit).toBe(clock === "x86-tsc" ? "ticks" : "ns");
      }
    }, 120_000);
  }
});

// Regenerates the committed text fixtures (CLOCKSOURCE_REGEN_TEXT=1; root, tracefs, trace-cmd).
const regen = process.env.CLOCKSOURCE_REGEN_TEXT === "1";
describe.skipIf(!regen || !liveText.ok || !traceCmd)("regenerate committed text fixtures", () => {
  it("records tracefs text and prints the report variants", () => {
    for (const [name, how] of Object.entries(TRACEFS_TEXT)) {
      const rec = recordTracefsText(how);
      writeFileSync(join(DATA_DIR, name), how.read === "pipe" ? (rec.pipe ?? "") : rec.trace);
      writeFileSync(join(DATA_DIR, `${name}.expect.json`), `${JSON.stringify({ clock: how.clock, markers: rec.markers, entries: rec.entries }, null, 2)}\n`);
    }
    for (const dat of REPORT_SOURCES) {
      expect(existsSync(join(DATA_DIR, dat))).toBe(true);
      for (const [variant, args] of Object.entries(REPORT_VARIANTS)) {
        const out = spawnSync("trace-cmd", ["report", ...args, join(DATA_DIR, dat)], { encoding: "utf8" });
        expect(out.status).toBe(0);
        writeFileSync(reportFixture(dat, variant), out.stdout);
      }
    }
  }, 120_000);
});
