/**
 * The merger on real recordings: trace.dat files recorded on this project's
 * machines (committed under test/data) merged with declared offsets give the
 * order `trace-cmd report -i a.dat -i b.dat --ts-offset N` gives, and the
 * order the exact BigInt reference computes; a perf.data file merges with a
 * trace of another format; the Perfetto output decodes, by Perfetto's
 * published field numbers, to the machines, tracks, times and arguments merged.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { mappingCodecRegistry } from "@clocksource/core";
import { kvmTscCodec, KvmTscMapping } from "@clocksource/x86";
import { ChunkSink, kvmTscFile, mergeTraces, newMergeStats, openTrace, PerfettoWriter, planMerge, type MergedEvent, type PlanInput, type TraceEvent } from "../src/index.js";
import { DATA_DIR } from "./support/trace-dat-fixtures.js";

const registry = mappingCodecRegistry([kvmTscCodec]);
const HOST = join(DATA_DIR, "sched-x86tsc-v7-zstd.dat");
const GUEST = join(DATA_DIR, "sched-x86tsc-v6.dat");
const PERF_MONO = join(DATA_DIR, "perf-sched-mono.data");
const MARKER_MONO = join(DATA_DIR, "marker-mono-v7-zstd.dat");

const traceCmd = spawnSync("trace-cmd", ["--version"], { encoding: "utf8", timeout: 10_000 });
const haveTraceCmd = !traceCmd.error;
if (!haveTraceCmd) console.log("[merge-real] trace-cmd is not installed: the comparison with trace-cmd report is skipped (the BigInt reference comparison runs)");

async function merged(inputs: { name: string; path: string; clock?: string }[], options: Parameters<typeof planMerge>[1]): Promise<{ out: MergedEvent[]; target: string; notes: string[] }> {
  const plan = await planMerge(
    await Promise.all(inputs.map(async (i): Promise<PlanInput> => ({ ...i, reader: await openTrace(i.path, i.clock ? { clock: i.clock } : {}) }))),
    { ...options, reopen: (i) => openTrace(i.path, i.clock ? { clock: i.clock } : {}) },
  );
  const out: MergedEvent[] = [];
  for await (const b of mergeTraces(plan.inputs, plan, newMergeStats())) out.push(...b);
  return { out, target: plan.target, notes: plan.notes };
}

/**
 * `cpu:timestamp:event` of each event line of `trace-cmd report -t -R -i … -i … --ts-offset N`, in its
 * order. (Not `--raw-ts`: trace-cmd then neither prints nor sorts by the corrected time.)
 */
function reportOrder(args: string[]): string[] {
  const r = spawnSync("trace-cmd", ["report", "-t", "-R", ...args], { encoding: "utf8", timeout: 60_000, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`trace-cmd report: ${r.stderr}`);
  const out: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^\s*\S+:\s.*?\[(\d+)\]\s*(\d+): ([^:\s]+):/.exec(line);
    if (m) out.push(`${Number(m[1])}:${m[2]}:${m[3]}`);
  }
  return out;
}

describe("merging real trace.dat files", () => {
  const offsets = [0n, 123_457n, -3_000_000n, 250_000_000n];
  for (const offset of offsets) {
    it(`orders host and guest like the exact reference and trace-cmd report --ts-offset ${offset}`, async () => {
      const { out, target } = await merged([{ name: "host", path: HOST }, { name: "vm1", path: GUEST }], { registry, offsets: new Map([["vm1", offset]]), tscOffsetEvents: "ignore" });
      expect(target).toBe("host.tsc");
      expect(out.length).toBeGreaterThan(20);
      // The reference: every event's raw time, plus the offset for the guest, sorted.
      for (let i = 1; i < out.length; i++) expect((out[i] as MergedEvent).ts >= (out[i - 1] as MergedEvent).ts).toBe(true);
      for (const m of out) expect(m.ts).toBe(m.machine === 0 ? m.event.ts : BigInt.asUintN(64, m.event.ts + offset));
      if (!haveTraceCmd) return;
      // --ts-offset applies to the -i before it.
      const theirs = reportOrder(["-i", HOST, "-i", GUEST, "--ts-offset", String(offset)]);
      // Compared as sequences of groups of equal merged time (the order inside a group is a tie either way).
      const ours = out.map((m) => `${m.event.cpu}:${m.ts}:${m.event.name.slice(m.event.name.indexOf(":") + 1)}`);
      expect(theirs.length).toBe(ours.length);
      const groups = (keys: string[]) => {
        const g: string[] = [];
        let i = 0;
        while (i < out.length) {
          const t = (out[i] as MergedEvent).ts;
          const set: string[] = [];
          while (i < out.length && (out[i] as MergedEvent).ts === t) set.push(keys[i++] as string);
          g.push(set.sort().join(" "));
        }
        return g;
      };
      expect(groups(theirs)).toEqual(groups(ours));
    });
  }

  it("with a scaled KVM mapping of two epochs per vCPU, gives the order of the exact BigInt reference", async () => {
    const guestEvents: TraceEvent[] = [];
    const r = await openTrace(GUEST);
    for await (const b of r.batches()) guestEvents.push(...b);
    await r.close();
    const raws = guestEvents.map((e) => e.ts).sort((a, b) => (a < b ? -1 : 1));
    const mid = raws[raws.length >> 1] as bigint;
    // Epoch 0 below the middle guest timestamp, epoch 1 from it; the guest TSC runs 1/1000 fast, offsets per vCPU.
    const ratio = (1n << 48n) + (1n << 48n) / 1000n;
    const params = (vcpu: number, epoch: number) => ({ tscOffset: BigInt(-5_000_000 - vcpu * 1_111 - epoch * 77_777), ratio, fracBits: 48 });
    const file = kvmTscFile("test", [
      { validFrom: null, validUntil: mid, vcpus: new Map([0, 1].map((v) => [v, params(v, 0)])) },
      { validFrom: mid, validUntil: null, vcpus: new Map([0, 1].map((v) => [v, params(v, 1)])) },
    ]);
    const { out } = await merged([{ name: "host", path: HOST }, { name: "vm1", path: GUEST }], { registry, mappings: [{ guest: "vm1", path: "scaled.json", file }], tscOffsetEvents: "ignore" });
    const ref = (e: TraceEvent) => {
      const p = params(e.cpu, e.ts < mid ? 0 : 1);
      return new KvmTscMapping({ offset: p.tscOffset, ratio: p.ratio, fracBits: p.fracBits }).inverse(e.ts);
    };
    for (const m of out) expect(m.ts).toBe(m.machine === 0 ? m.event.ts : ref(m.event));
    for (let i = 1; i < out.length; i++) expect((out[i] as MergedEvent).ts >= (out[i - 1] as MergedEvent).ts).toBe(true);
    expect(out.filter((m) => m.machine === 1)).toHaveLength(guestEvents.length);
  });

  it("merges a perf.data file (CLOCK_MONOTONIC) with a trace.dat (mono clock) on the host's monotonic clock", async () => {
    const { out, target } = await merged([{ name: "host", path: PERF_MONO }, { name: "vm1", path: MARKER_MONO }], { registry, offsets: new Map([["vm1", 1_000n]]) });
    expect(target).toBe("host.monotonic");
    const names = new Set(out.map((m) => `${m.machine}:${m.event.name}`));
    expect(names.has("0:sched:sched_switch")).toBe(true);
    expect(names.has("1:ftrace:print")).toBe(true);
    for (let i = 1; i < out.length; i++) expect((out[i] as MergedEvent).ts >= (out[i - 1] as MergedEvent).ts).toBe(true);
  });
});

/** A decoded TracePacket: just the fields the writer uses (interned names resolved per sequence). */
interface Packet {
  flags?: number;
  ts?: bigint;
  seq?: number;
  machine?: number;
  track?: { uuid: bigint; name?: string; parent?: bigint; process?: { pid: number; name?: string }; thread?: { pid: number; tid: number; name?: string } };
  event?: { type: number; track: bigint; name?: string; categories: string[]; args: Map<string, string | bigint | boolean> };
}

function decode(bytes: Uint8Array): Packet[] {
  const packets: Packet[] = [];
  // Interned tables per sequence: category (1), event name (2), argument name (3) → iid → string.
  const interned = new Map<number, Map<number, Map<number, string>>>();
  const lookup = (seq: number, table: number, iid: number): string => {
    const s = interned.get(seq)?.get(table)?.get(iid);
    if (s === undefined) throw new Error(`sequence ${seq}: iid ${iid} of table ${table} used before it was interned`);
    return s;
  };
  const top = new BinaryReader(bytes);
  while (top.pos < top.len) {
    const [field, wt] = top.tag();
    expect(field).toBe(1); // Trace.packet
    expect(wt).toBe(WireType.LengthDelimited);
    const r = new BinaryReader(top.bytes());
    const p: Packet = {};
    while (r.pos < r.len) {
      const [f, t] = r.tag();
      if (f === 8) p.ts = BigInt(r.uint64());
      else if (f === 10) p.seq = r.uint32();
      else if (f === 13) p.flags = r.uint32();
      else if (f === 12) {
        const seq = p.seq as number;
        if (!interned.has(seq)) interned.set(seq, new Map());
        const d = new BinaryReader(r.bytes());
        while (d.pos < d.len) {
          const [table] = d.tag();
          const e = new BinaryReader(d.bytes());
          let iid = 0;
          let name = "";
          while (e.pos < e.len) {
            const [h, ht] = e.tag();
            if (h === 1) iid = Number(e.uint64());
            else if (h === 2) name = e.string();
            else e.skip(ht);
          }
          const tables = interned.get(seq) as Map<number, Map<number, string>>;
          if (!tables.has(table)) tables.set(table, new Map());
          (tables.get(table) as Map<number, string>).set(iid, name);
        }
      }
      else if (f === 98) p.machine = r.uint32();
      else if (f === 60) {
        const d = new BinaryReader(r.bytes());
        const track: NonNullable<Packet["track"]> = { uuid: 0n };
        while (d.pos < d.len) {
          const [g, gt] = d.tag();
          if (g === 1) track.uuid = BigInt(d.uint64());
          else if (g === 2) track.name = d.string();
          else if (g === 5) track.parent = BigInt(d.uint64());
          else if (g === 3 || g === 4) {
            const s = new BinaryReader(d.bytes());
            const v: { pid: number; tid: number; name?: string } = { pid: 0, tid: 0 };
            while (s.pos < s.len) {
              const [h, ht] = s.tag();
              if (h === 1) v.pid = s.int32();
              else if (h === 2) v.tid = s.int32();
              else if ((g === 3 && h === 6) || (g === 4 && h === 5)) v.name = s.string();
              else s.skip(ht);
            }
            if (g === 3) track.process = { pid: v.pid, ...(v.name ? { name: v.name } : {}) };
            else track.thread = v;
          } else d.skip(gt);
        }
        p.track = track;
      } else if (f === 11) {
        const d = new BinaryReader(r.bytes());
        const ev: NonNullable<Packet["event"]> = { type: 0, track: 0n, categories: [], args: new Map() };
        while (d.pos < d.len) {
          const [g, gt] = d.tag();
          if (g === 9) ev.type = d.int32();
          else if (g === 11) ev.track = BigInt(d.uint64());
          else if (g === 23) ev.name = d.string();
          else if (g === 10) ev.name = lookup(p.seq as number, 2, d.uint32());
          else if (g === 22) ev.categories.push(d.string());
          else if (g === 3) ev.categories.push(lookup(p.seq as number, 1, d.uint32()));
          else if (g === 4) {
            const a = new BinaryReader(d.bytes());
            let name = "";
            let value: string | bigint | boolean = "";
            while (a.pos < a.len) {
              const [h, ht] = a.tag();
              if (h === 10) name = a.string();
              else if (h === 1) name = lookup(p.seq as number, 3, a.uint32());
              else if (h === 2) value = a.bool();
              else if (h === 3) value = BigInt(a.uint64());
              else if (h === 4) value = BigInt(a.int64());
              else if (h === 6) value = a.string();
              else a.skip(ht);
            }
            ev.args.set(name, value);
          } else d.skip(gt);
        }
        p.event = ev;
      } else r.skip(t);
    }
    packets.push(p);
  }
  return packets;
}

describe("the Perfetto output", () => {
  it("decodes to one machine per input, named tracks, every event at its merged time with its fields", async () => {
    const offset = 55_555n;
    const plan = await planMerge(
      [
        { name: "host", path: HOST, reader: await openTrace(HOST) },
        { name: "vm1", path: GUEST, reader: await openTrace(GUEST) },
      ],
      { registry, offsets: new Map([["vm1", offset]]), tscOffsetEvents: "ignore" },
    );
    const sink = new ChunkSink();
    const writer = new PerfettoWriter(sink);
    // A declared 2.5 GHz TSC: ns = ticks × 2 / 5.
    const toNs = (t: bigint) => (t * 2n) / 5n;
    writer.begin({ machines: [{ index: 0, name: "host" }, { index: 1, name: "vm1" }], target: plan.target, toNanoseconds: toNs });
    const all: MergedEvent[] = [];
    for await (const b of mergeTraces(plan.inputs, plan, newMergeStats())) {
      writer.write(b);
      all.push(...b);
    }
    writer.end();
    const bytes = Buffer.concat(sink.take().map((c) => (typeof c === "string" ? Buffer.from(c) : c)));
    const packets = decode(bytes);
    const tracks = new Map(packets.filter((p) => p.track).map((p) => [p.track?.uuid as bigint, { ...p.track, machine: p.machine ?? 0 }]));
    const instants = packets.filter((p) => p.event?.type === 3);
    expect(instants).toHaveLength(all.length);
    // Machines: packets of the guest carry machine_id 1; the host's carry none (0). Each machine has its own sequence.
    expect(new Set(instants.map((p) => p.machine ?? 0))).toEqual(new Set([0, 1]));
    expect(new Set(instants.map((p) => `${p.machine ?? 0}:${p.seq}`))).toEqual(new Set(["0:1", "1:2"]));
    // Each sequence starts by clearing its incremental state; packets that use interned names say they need it.
    for (const seq of [1, 2]) expect(packets.find((p) => p.seq === seq)?.flags).toBe(1);
    expect(instants.every((p) => p.flags === 2)).toBe(true);
    const roots = [...tracks.values()].filter((t) => t.name === "host" || t.name === "vm1");
    expect(roots.map((t) => t.name).sort()).toEqual(["host", "vm1"]);
    instants.forEach((p, i) => {
      const m = all[i] as MergedEvent;
      expect(p.ts).toBe(toNs(m.ts));
      expect(p.machine ?? 0).toBe(m.machine);
      expect(p.event?.name).toBe(m.event.name);
      expect(p.event?.categories).toEqual([m.machine === 0 ? "host" : "vm1"]);
      expect(p.event?.args.get("raw_ts")).toBe(m.event.ts);
      expect(p.event?.args.get("cpu")).toBe(BigInt(m.event.cpu));
      expect(p.event?.args.get("uncertainty_ns")).toBe(0n);
      const track = tracks.get(p.event?.track as bigint);
      expect(track, "every event's track is described").toBeDefined();
      expect(track?.machine).toBe(m.machine);
      if (m.event.tid >= 0) {
        expect(track?.thread?.tid).toBe(m.event.tid);
        expect(track?.thread?.name).toContain(`[${m.machine === 0 ? "host" : "vm1"}]`);
      }
      for (const [k, v] of Object.entries(m.event.fields)) {
        const got = p.event?.args.get(`args.${k}`);
        if (typeof v === "number" || typeof v === "bigint") expect(got).toBe(BigInt(v));
        else if (typeof v === "string") expect(got).toBe(v);
      }
    });
    // CPU tracks exist per machine, under the machine's root track.
    const cpuTracks = [...tracks.values()].filter((t) => /CPU \d+$/.test(t.name ?? ""));
    expect(cpuTracks.length).toBeGreaterThan(0);
    for (const t of cpuTracks) expect(roots.some((r) => r.uuid === t.parent && r.machine === t.machine)).toBe(true);
  });
});
