/**
 * perf.data features this machine cannot record (TIME_CONV, LOST, AUXTRACE,
 * big-endian files, READ groups, huge rounds), written byte by byte with the
 * test builder, and the reorder rule checked against perf's guarantee for any
 * interleaving of CPU buffers.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/model/event.js";
import { Arena, RoundQueue } from "../src/readers/perf-data/reorder.js";
import { readAll } from "./support/perf-compare.js";
import { PerfDataBuilder, S, type AttrSpec } from "./support/perf-data-builder.js";

// Made when the tests run (hooks of a file whose tests are all filtered out do not run).
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clocksource-perf-synth-"));
});
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});
let n = 0;
function write(bytes: Uint8Array): string {
  const p = join(dir, `f${n++}.data`);
  writeFileSync(p, bytes);
  return p;
}

const FULL: AttrSpec = {
  type: 0,
  config: 0n,
  sampleType: S.IDENTIFIER | S.IP | S.TID | S.TIME | S.ADDR | S.ID | S.STREAM_ID | S.CPU | S.PERIOD | S.READ | S.CALLCHAIN,
  readFormat: 1 | 4, // TOTAL_TIME_ENABLED | ID: value, enabled, id
  sampleIdAll: true,
  ids: [11n, 12n],
};
const GROUP: AttrSpec = {
  type: 1,
  config: 0n,
  sampleType: S.IDENTIFIER | S.TID | S.TIME | S.CPU | S.READ | S.CALLCHAIN,
  readFormat: 8 | 4 | 16, // GROUP | ID | LOST: nr, then {value, id, lost} per member
  sampleIdAll: true,
  ids: [21n],
};

function plain(events: readonly TraceEvent[]): unknown[] {
  return events.map((e) => ({ ts: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, comm: e.comm, name: e.name, fields: e.fields }));
}

function fullFile(le: boolean): PerfDataBuilder {
  const b = new PerfDataBuilder(le).attr(FULL).attr(GROUP);
  b.comm(100, 101, "worker", { time: 0n, id: 0n });
  b.sample({ id: 11n, ip: 0xffffffff81000000n, pid: 100, tid: 101, time: 1000n, addr: 0xdeadbeefn, streamId: 5n, cpu: 1, period: 4000n, read: [7n, 8n, 11n], callchain: [1n, 2n, 0xfffffffffffffe00n] }, FULL);
  b.sample({ id: 21n, pid: 100, tid: 102, time: 1500n, cpu: 0, read: [2n, 70n, 21n, 0n, 71n, 22n, 1n], callchain: [9n] }, GROUP);
  b.fork(7, 100, 100, 103, 101, { time: 1600n, id: 11n, cpu: 0 });
  b.sample({ id: 12n, ip: 5n, pid: 100, tid: 103, time: 1700n, cpu: 1, read: [0n, 0n, 12n], callchain: [] }, FULL);
  b.fork(4, 100, 100, 103, 101, { time: 1800n, id: 11n, cpu: 1 });
  b.finishedRound();
  return b;
}

describe("perf.data written byte by byte", () => {
  it("decodes every sample field in sample_type order, READ (also a group) and CALLCHAIN walked, both byte orders", async () => {
    const le = await readAll(write(fullFile(true).build()));
    const be = await readAll(write(fullFile(false).build()));
    expect(le.warnings).toEqual([]);
    expect(plain(be.events)).toEqual(plain(le.events));
    expect(be.info.timeRecords).toEqual(le.info.timeRecords);
    const [comm, s1, s2, fork, s3, exit] = le.events as TraceEvent[];
    expect(comm).toMatchObject({ name: "perf:comm", ts: 0n, pid: 100, tid: 101, comm: "worker", fields: { comm: "worker", exec: 0 } });
    // No EVENT_DESC: perf's names for PERF_TYPE_HARDWARE 0 and PERF_TYPE_SOFTWARE 0.
    expect(s1).toMatchObject({ name: "cycles", ts: 1000n, cpu: 1, pid: 100, tid: 101, comm: "worker" });
    expect(s1?.fields).toEqual({ ip: 0xffffffff81000000n, addr: 0xdeadbeefn, period: 4000n, callchain: [1n, 2n, 0xfffffffffffffe00n] });
    expect(s2).toMatchObject({ name: "cpu-clock", ts: 1500n, cpu: 0, tid: 102, comm: null, fields: { callchain: [9n] } });
    expect(fork).toMatchObject({ name: "perf:fork", ts: 1600n, tid: 103, comm: "worker", fields: { pid: 100, ppid: 100, tid: 103, ptid: 101, time: 1600n } });
    expect(s3).toMatchObject({ name: "cycles", tid: 103, comm: "worker", fields: { ip: 5n, callchain: [] } });
    expect(exit).toMatchObject({ name: "perf:exit", ts: 1800n, cpu: 1 });
  });

  it("pipe mode gives the same events as file mode, in both byte orders", async () => {
    const file = await readAll(write(fullFile(true).eventDesc(["cycles:u", "cpu-clock"]).build()));
    for (const le of [true, false]) {
      const pipe = await readAll(write(fullFile(le).eventDesc(["cycles:u", "cpu-clock"]).buildPipe()));
      expect(pipe.info.properties?.mode).toBe("pipe");
      expect(pipe.warnings).toEqual([]);
      expect(plain(pipe.events)).toEqual(plain(file.events));
    }
    expect(file.events[1]?.name).toBe("cycles:u");
  });

  it("TIME_CONV: the short form (perf < 5.10) and the long form", async () => {
    const short = new PerfDataBuilder().attr(FULL).timeConv(10, 500, 123456789n);
    short.sample({ id: 11n, time: 5n, read: [0n, 0n, 0n] }).finishedRound();
    const s = await readAll(write(short.build()));
    expect(s.info.timeRecords.perfTimeConv).toEqual({ timeShift: 10, timeMult: 500, timeZero: 123456789n });
    const long = new PerfDataBuilder(false).attr(FULL).timeConv(31, 0xffffffff, 2n ** 64n - 1n, { cycles: 77n, mask: 2n ** 56n - 1n, capZero: true, capShort: false });
    const l = await readAll(write(long.build()));
    expect(l.info.timeRecords.perfTimeConv).toEqual({
      timeShift: 31,
      timeMult: 0xffffffff,
      timeZero: 2n ** 64n - 1n,
      timeCycles: 77n,
      timeMask: 2n ** 56n - 1n,
      capUserTimeZero: true,
      capUserTimeShort: false,
    });
  });

  it("a TIME_CONV after the first samples still reaches info (once read)", async () => {
    const b = new PerfDataBuilder().attr(FULL);
    b.sample({ id: 11n, time: 5n, read: [0n, 0n, 0n] }).finishedRound().timeConv(1, 2, 3n);
    const r = await readAll(write(b.build()));
    expect(r.info.timeRecords.perfTimeConv).toEqual({ timeShift: 1, timeMult: 2, timeZero: 3n });
  });

  it("LOST and LOST_SAMPLES become `lost` events and warnings naming the offset", async () => {
    const b = new PerfDataBuilder().attr(FULL);
    b.sample({ id: 11n, time: 10n, cpu: 0, read: [0n, 0n, 0n] });
    b.lost(11n, 42n, { time: 20n, cpu: 1, id: 11n, pid: 7, tid: 8 });
    b.lostSamples(3n, { time: 30n, cpu: 0, id: 11n });
    b.finishedRound();
    const r = await readAll(write(b.build()));
    const lost = r.events.filter((e) => e.name === "lost");
    expect(lost.map((e) => [e.ts, e.cpu, e.fields.count, e.fields.record])).toEqual([
      [20n, 1, 42, "LOST"],
      [30n, 0, 3, "LOST_SAMPLES"],
    ]);
    expect(lost[0]).toMatchObject({ pid: 7, tid: 8, fields: { id: 11n } });
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toMatch(/offset 0x[0-9a-f]+: 42 events lost \(LOST record\)/);
  });

  it("AUXTRACE data (outside its record's size) is skipped with a warning; later records are read", async () => {
    const b = new PerfDataBuilder().attr(FULL);
    b.auxtrace(new Uint8Array(1000).fill(0xff));
    b.sample({ id: 11n, time: 10n, read: [0n, 0n, 0n] }).finishedRound();
    const r = await readAll(write(b.build()));
    expect(r.events).toHaveLength(1);
    expect(r.warnings.some((w) => /AUXTRACE data \(1000 bytes\) skipped/.test(w))).toBe(true);
  });

  it("unknown record types are skipped by size and counted; the list of warnings stays bounded", async () => {
    const b = new PerfDataBuilder().attr(FULL);
    for (let i = 0; i < 50; i++) b.record(i % 2 === 0 ? 30 : 200, new Uint8Array(16));
    b.sample({ id: 11n, time: 10n, read: [0n, 0n, 0n] });
    b.record(81, new Uint8Array(24)); // COMPRESSED, but not zstd
    b.finishedRound();
    const r = await readAll(write(b.build()));
    expect(r.events).toHaveLength(1);
    const unknown = r.warnings.filter((w) => w.includes("unknown record type"));
    expect(unknown).toHaveLength(10);
    expect(r.warnings.some((w) => w.includes('50 warnings of kind "unknown-record"'))).toBe(true);
    expect(r.warnings.some((w) => w.includes("the compressed data does not start with a zstd frame; the compressed records from here on are skipped"))).toBe(true);
  });

  it("an unknown feature bit is skipped with a warning and the features after it are still read", async () => {
    const b = fullFile(true).eventDesc(["first", "second"]);
    b.features.set(100, new Uint8Array([1, 2, 3, 4]));
    b.features.set(29, new Uint8Array([1, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])); // CLOCK_DATA: BOOTTIME
    const r = await readAll(write(b.build()));
    expect(r.warnings.some((w) => /unknown header feature bit 100 \(4 bytes\)/.test(w))).toBe(true);
    expect(r.events[1]?.name).toBe("first");
    expect(r.info.timeRecords.perfClockData).toEqual({ clockId: 7, wallClockNs: 1n, clockIdTimeNs: 2n });
    expect(r.info.clock).toEqual({ name: "CLOCK_BOOTTIME", unit: "ns", source: "HEADER_CLOCK_DATA" });
  });

  it("a sample of an unknown id is skipped with a warning", async () => {
    const b = new PerfDataBuilder().attr(FULL).attr(GROUP);
    b.sample({ id: 99n, time: 10n, read: [0n, 0n, 0n] }, FULL).finishedRound();
    const r = await readAll(write(b.build()));
    expect(r.events).toHaveLength(0);
    expect(r.warnings[0]).toMatch(/offset 0x[0-9a-f]+: SAMPLE for unknown event id 99; skipped/);
  });

  it("events older than what already went out come out late, as perf prints them, with a warning", async () => {
    const b = new PerfDataBuilder().attr(FULL);
    b.sample({ id: 11n, time: 100n, read: [0n, 0n, 0n] }).finishedRound();
    b.sample({ id: 11n, time: 200n, read: [0n, 0n, 0n] }).finishedRound();
    b.sample({ id: 11n, time: 50n, read: [0n, 0n, 0n] }).finishedRound();
    const r = await readAll(write(b.build()));
    expect(r.events.map((e) => e.ts)).toEqual([100n, 50n, 200n]);
    expect(r.warnings.some((w) => w.includes("1 events arrived after newer ones"))).toBe(true);
  });

  it("orders events exactly for any interleaving perf record can write (FINISHED_ROUND bound), ties by CPU", async () => {
    const attr: AttrSpec = { type: 1, sampleType: S.TID | S.TIME | S.CPU, sampleIdAll: true, ids: [1n] };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.nat(3), fc.bigInt({ min: 1n, max: 400n })), { maxLength: 120 }),
        fc.uniqueArray(fc.bigInt({ min: 1n, max: 400n }), { minLength: 24, maxLength: 24 }),
        async (cpus, passes, raw, reads) => {
          // Pass k reads CPU c's buffer at instant R[k][c] (increasing over k, then c): it holds that CPU's events since its last read.
          const R = [...reads].sort((a, b) => (a < b ? -1 : 1)).slice(0, passes * cpus);
          R[R.length - 1] = 400n;
          const at = (k: number, c: number): bigint => (k < 0 ? 0n : (R[k * cpus + c] as bigint));
          const events = raw.map(([c, ts], i) => ({ cpu: c % cpus, ts, i }));
          const b = new PerfDataBuilder().attr(attr);
          const written: { cpu: number; ts: bigint; i: number }[] = [];
          for (let k = 0; k < passes; k++) {
            for (let c = 0; c < cpus; c++) {
              const batch = events.filter((e) => e.cpu === c && e.ts > at(k - 1, c) && e.ts <= at(k, c)).sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : x.i - y.i));
              for (const e of batch) {
                b.sample({ time: e.ts, cpu: e.cpu, pid: 1, tid: e.i });
                written.push(e);
              }
            }
            b.finishedRound();
          }
          const r = await readAll(write(b.build()));
          const expected = written
            .map((e, order) => ({ ...e, order }))
            .sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : x.cpu - y.cpu || x.order - y.order))
            .map((e) => [e.ts, e.cpu, e.i]);
          expect(r.events.map((e) => [e.ts, e.cpu, e.tid])).toEqual(expected);
          expect(r.warnings).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("RoundQueue", () => {
  /** What goes out, in order: each record holds its own timestamp and CPU (u64 each), read back from the arena. */
  function drain(q: RoundQueue): [bigint, number][] {
    const out: [bigint, number][] = [];
    for (let r = q.peekReady(); r !== undefined; r = q.peekReady()) {
      while (r.from < r.to) {
        const pos = r.pos[r.from++] as number;
        const v = q.arena.viewAt(pos);
        const p = Arena.local(pos);
        out.push([v.getBigUint64(p, true), Number(v.getBigUint64(p + 8, true))]);
      }
    }
    return out;
  }
  const push = (q: RoundQueue, ts: bigint, cpu = 0, pad = 0): void => {
    const rec = new Uint8Array(16 + pad);
    const v = new DataView(rec.buffer);
    v.setBigUint64(0, ts, true);
    v.setBigUint64(8, BigInt(cpu), true);
    q.push(rec, 0, rec.length, Number(ts >> 32n), Number(ts & 0xffffffffn), cpu, -1, 0);
  };

  it("bounds what it holds: past the limit the older half goes out early, counted, and nothing is lost or garbled", () => {
    const q = new RoundQueue(100);
    const out: bigint[] = [];
    for (let i = 0; i < 1000; i++) {
      push(q, BigInt(1 + ((i * 7919) % 1000)) + (1n << 40n));
      out.push(...drain(q).map(([t]) => t));
      expect(q.size).toBeLessThanOrEqual(100);
    }
    expect(q.overflows).toBeGreaterThan(0);
    q.finish();
    out.push(...drain(q).map(([t]) => t));
    expect(out).toHaveLength(1000);
    expect(new Set(out)).toEqual(new Set(Array.from({ length: 1000 }, (_, i) => BigInt(i + 1) + (1n << 40n))));
  });

  it("keeps records intact across arena pages (records of up to 64 KiB, pages dropped once read)", () => {
    const q = new RoundQueue();
    const out: [bigint, number][] = [];
    for (let i = 1; i <= 600; i++) {
      push(q, BigInt(i), i % 3, (i * 977) % 65000);
      if (i % 50 === 0) {
        q.round();
        out.push(...drain(q));
      }
    }
    q.finish();
    out.push(...drain(q));
    expect(out).toEqual(Array.from({ length: 600 }, (_, k) => [BigInt(k + 1), (k + 1) % 3]));
    // 600 records of ~32 KiB on average passed through; only what still waits is held.
    expect(q.arena.held).toBeLessThanOrEqual(3 * (1 << 22));
  });

  it("sorts the same whether the round's time span fits the packed sort key or not (and CPU numbers of any size)", () => {
    const times = [5n, 3n, 5n, 1n, 5n, 2n ** 62n, 3n, 2n ** 40n + 7n];
    const cpus = [1, 0, 0, 2, 1, 0, 7, 3];
    const expected = times
      .map((t, i) => ({ t, c: cpus[i] as number, i }))
      .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.c - b.c || a.i - b.i))
      .map((x) => [x.t, x.c]);
    for (const span of ["small", "huge"]) {
      const q = new RoundQueue();
      times.forEach((t, i) => {
        if (span === "small" && t > 1000n) return;
        push(q, t, cpus[i]);
      });
      q.finish();
      expect(drain(q)).toEqual(expected.filter(([t]) => span === "huge" || (t as bigint) <= 1000n));
    }
    const big = new RoundQueue();
    push(big, 9n, 0x7fffffff);
    push(big, 9n, 3);
    big.finish();
    expect(drain(big)).toEqual([
      [9n, 3],
      [9n, 0x7fffffff],
    ]);
  });

  it("lets a round out only up to the newest time of the previous round; ties by CPU, then arrival", () => {
    const q = new RoundQueue();
    push(q, 10n, 1);
    push(q, 10n, 0);
    push(q, 30n);
    q.round();
    expect(drain(q)).toEqual([]);
    push(q, 20n);
    push(q, 40n);
    q.round();
    // Bound = 30 (the newest at the first round).
    expect(drain(q)).toEqual([
      [10n, 0],
      [10n, 1],
      [20n, 0],
      [30n, 0],
    ]);
    q.finish();
    expect(drain(q)).toEqual([[40n, 0]]);
    expect(q.unordered).toBe(0);
  });
});
