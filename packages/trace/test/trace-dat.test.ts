/**
 * The trace.dat reader against trace-cmd itself: committed files recorded on
 * a real machine (with trace-cmd's report text committed beside them, so the
 * comparison runs where trace-cmd is absent) and fresh recordings made here
 * when root, tracefs and trace-cmd are available.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { traceDatFormat } from "../src/readers/trace-dat/index.js";
import { compareWithReport, readAll } from "./support/report-compare.js";
import { FIXTURES, fixtureFile } from "./support/trace-dat-fixtures.js";
import { markerCpus, recordTraceDat, traceCmdReport, tracefsRecordSupport } from "./support/tracefs-record.js";
import { repackV7 } from "./support/trace-dat-repack.js";

const files = FIXTURES.flatMap((f) => f.keep.map((kind) => ({ f, kind, path: fixtureFile(f.base, kind) })));

describe("committed trace.dat files equal trace-cmd report --raw-ts, event for event", () => {
  for (const { f, kind, path } of files) {
    it(`${f.base}-${kind}`, async () => {
      const { info, events } = await readAll(path);
      const cmp = compareWithReport(events, readFileSync(`${path}.report.txt`, "utf8"));
      expect(cmp.mismatches).toEqual([]);
      expect(cmp.compared).toBeGreaterThan(0);
      expect(info.format).toBe("trace-cmd");
      expect(info.version).toBe(kind === "v6" ? "6" : "7");
      expect(info.compression).toBe(kind === "v6" ? null : kind === "v7-zstd" ? "zstd" : "none");
      const recorded = info.buffers.filter((b) => b.cpus.length > 0);
      expect(recorded).toHaveLength(f.options.buffers ?? 1);
      for (const b of recorded) {
        expect(b.clock.name).toBe(f.options.clock);
        expect(b.clock.unit).toBe(f.options.clock === "x86-tsc" ? "ticks" : "ns");
      }
      expect(info.timeRecords.traceId).toBeTypeOf("bigint");
      // Every known marker text is an ftrace:print event on the CPU it was written from, in every buffer.
      for (const m of f.markers) {
        const hits = events.filter((e) => e.name === "ftrace:print" && e.fields.buf === `${m.text}\n`);
        expect(hits.map((e) => e.cpu)).toEqual(Array.from({ length: f.options.buffers ?? 1 }, () => m.cpu));
      }
      // Time order (ties by buffer, then CPU).
      for (let i = 1; i < events.length; i++) expect((events[i - 1] as { ts: bigint }).ts <= (events[i] as { ts: bigint }).ts).toBe(true);
    });
  }

  it("names the fields of sched_switch and print with their types (numbers, bigints, strings)", async () => {
    const { events } = await readAll(fixtureFile("sched-x86tsc", "v6"));
    const sw = events.find((e) => e.name === "sched:sched_switch");
    expect(sw).toBeDefined();
    expect(Object.keys(sw?.fields ?? {})).toEqual(["prev_comm", "prev_pid", "prev_prio", "prev_state", "next_comm", "next_pid", "next_prio"]);
    expect(typeof sw?.fields.prev_comm).toBe("string");
    expect(typeof sw?.fields.prev_pid).toBe("number");
    expect(typeof sw?.fields.prev_state).toBe("bigint");
    const pr = events.find((e) => e.name === "ftrace:print");
    expect(typeof pr?.fields.ip).toBe("bigint");
    expect(pr?.fields.buf).toMatch(/^clocksource sched cpu\d #\d\n$/);
    expect(pr?.comm).toBe("sh");
  });

  it("reports the kernel's lost events as `lost` markers with the count trace-cmd prints, and warns", async () => {
    const { events, warnings } = await readAll(fixtureFile("lost-local", "v7-zstd"));
    const lost = events.filter((e) => e.name === "lost");
    expect(lost.length).toBeGreaterThan(0);
    expect(typeof lost[0]?.fields.count).toBe("number");
    expect(lost[0]?.ts).toBe(events[events.indexOf(lost[0] as (typeof events)[number]) + 1]?.ts);
    expect(warnings.some((w) => /events lost before timestamp/.test(w))).toBe(true);
    expect(warnings.some((w) => /CPUSTAT for CPU 1 reports overrun/.test(w))).toBe(true);
  });

  it("gives the same events whatever the batch size", async () => {
    const path = fixtureFile("two-buffer-mono", "v7-zstd");
    const a = await readAll(path, 1);
    const b = await readAll(path, 7);
    const c = await readAll(path);
    const key = (r: typeof a) => r.events.map((e) => `${e.buffer}/${e.cpu}/${e.ts}/${e.name}/${e.tid}`).join("\n");
    expect(key(a)).toBe(key(c));
    expect(key(b)).toBe(key(c));
  });

  it("v6, v7-none and v7-zstd of one recording give identical events", async () => {
    const [v6, none, zstd] = await Promise.all((["v6", "v7-none", "v7-zstd"] as const).map((k) => readAll(fixtureFile("sched-x86tsc", k))));
    const json = (r: { events: unknown[] }) => JSON.stringify(r.events, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
    expect(json(none as { events: unknown[] })).toBe(json(v6 as { events: unknown[] }));
    expect(json(zstd as { events: unknown[] })).toBe(json(v6 as { events: unknown[] }));
  });

  it("detects trace.dat by content, not by name", () => {
    const head = readFileSync(fixtureFile("marker-mono", "v6")).subarray(0, 4096);
    expect(traceDatFormat.detect(head)).toBe(true);
    expect(traceDatFormat.detect(new TextEncoder().encode("PERFILE2........"))).toBe(false);
    expect(traceDatFormat.detect(new Uint8Array(0))).toBe(false);
  });
});

describe("zlib-compressed trace.dat v7", () => {
  // trace-cmd here (Debian 3.1.6) cannot write zlib, so a test-only repacker recompresses the
  // sections and flyrecord chunks of a recorded uncompressed v7 file with node:zlib.
  const dir = mkdtempSync(join(tmpdir(), "clocksource-zlib-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the identical events and equals trace-cmd's report of the uncompressed file", async () => {
    const src = fixtureFile("sched-x86tsc", "v7-none");
    const out = join(dir, "sched-x86tsc-v7-zlib.dat");
    writeFileSync(out, repackV7(readFileSync(src), "zlib", 3));
    const zl = await readAll(out);
    expect(zl.info.compression).toBe("zlib");
    expect(zl.warnings).toEqual([]);
    const none = await readAll(src);
    expect(zl.events).toEqual(none.events);
    expect(compareWithReport(zl.events, readFileSync(`${src}.report.txt`, "utf8")).mismatches).toEqual([]);
  });

  it("the repacker's zstd output reads like trace-cmd's own zstd file", async () => {
    const src = fixtureFile("two-buffer-mono", "v7-zstd");
    const none = join(dir, "two-none.dat");
    writeFileSync(none, repackV7(readFileSync(src), "none", 1));
    const a = await readAll(none);
    const b = await readAll(src);
    expect(a.events).toEqual(b.events);
  });
});

const clocks = ["x86-tsc", "mono", "local"];
const support = tracefsRecordSupport();
if (!support.ok) console.log(`trace-dat fresh recordings: skipped: ${support.reason}`);

describe.skipIf(!support.ok)("fresh recordings on this machine equal trace-cmd report --raw-ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "clocksource-tracedat-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cpus = markerCpus(4);

  for (const [i, clock] of clocks.entries()) {
    const clockSupport = tracefsRecordSupport(clock);
    // The first file carries the machine's whole metadata (every event format, kallsyms); the others only what they record.
    const full = i === 0;
    it.skipIf(!clockSupport.ok)(`clock ${clock}: v6, v7 none, v7 zstd${full ? ", with every event format and kallsyms" : ""}${clockSupport.ok ? "" : ` (skipped: ${clockSupport.reason})`}`, async () => {
      const markers = cpus.flatMap((cpu) => [0, 1].map((i) => ({ cpu, text: `fresh ${clock} cpu${cpu} #${i} ${process.pid}` })));
      const rec = recordTraceDat(dir, `fresh-${clock}`, { clock, events: ["sched/sched_switch", "sched/sched_wakeup"], markers, minimal: !full });
      for (const path of [rec.v6, rec.v7none, rec.v7zstd]) {
        const { info, events } = await readAll(path);
        const cmp = compareWithReport(events, traceCmdReport(path));
        expect(cmp.mismatches, path).toEqual([]);
        expect(cmp.fieldChecked).toBeGreaterThan(0);
        expect(info.buffers.find((b) => b.cpus.length > 0)?.clock.name).toBe(clock);
        for (const m of markers) {
          expect(events.find((e) => e.name === "ftrace:print" && e.fields.buf === `${m.text}\n`)?.cpu).toBe(m.cpu);
        }
        if (cpus.length > 1) expect(new Set(events.map((e) => e.cpu)).size).toBeGreaterThan(1);
      }
    }, 180_000);
  }

  it("lost events in a freshly overflowed buffer match trace-cmd's EVENTS DROPPED", async () => {
    const rec = recordTraceDat(dir, "fresh-lost", { clock: "mono", events: [], markers: Array.from({ length: 400 }, (_, i) => ({ cpu: 0, text: `overflow ${i}` })), bufferSizeKb: 8, minimal: true });
    const { events } = await readAll(rec.v7zstd);
    const cmp = compareWithReport(events, traceCmdReport(rec.v7zstd));
    expect(cmp.mismatches).toEqual([]);
    expect(cmp.lost).toBeGreaterThan(0);
  }, 180_000);

  it("two buffers in one file, v6 and v7", async () => {
    const rec = recordTraceDat(dir, "fresh-two", { clock: "mono", events: ["sched/sched_switch"], markers: cpus.map((cpu) => ({ cpu, text: `two ${cpu}` })), buffers: 2, minimal: true });
    for (const path of [rec.v6, rec.v7zstd]) {
      const { events, info } = await readAll(path);
      expect(compareWithReport(events, traceCmdReport(path)).mismatches).toEqual([]);
      expect(new Set(events.map((e) => e.buffer))).toEqual(new Set(rec.buffers));
      expect(info.buffers.filter((b) => b.cpus.length > 0).map((b) => b.name).sort()).toEqual([...rec.buffers].sort());
    }
  }, 180_000);
});
