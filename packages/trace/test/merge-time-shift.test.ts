/**
 * trace-cmd's own host/guest time sync in a merge: a guest trace.dat carrying
 * TIME_SHIFT samples is placed on the host's clock without any option. The
 * samples are added to real recordings (a TIME_SHIFT option naming the host
 * file's TRACEID), as `trace-cmd record -A` would write them; no guest can be
 * traced on this machine.
 * - ptp-style samples (INTERPOLATE): the merged times follow trace-cmd's
 *   documented interpolation (trace-input.c `timestamp_correction_calc`),
 *   computed here independently in BigInt;
 * - unscaled kvm samples: each sample's offset from its time on;
 * - a single scaled kvm sample: KVM's exact inverse, where trace-cmd adds the
 *   offset and ignores the scaling.
 * (trace-cmd 3.1.6's `report` did not apply TIME_SHIFT options added to a
 * recorded file — `dump --options` reads them — so it is not the oracle here.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { mappingCodecRegistry } from "@clocksource/core";
import { kvmTscCodec, KvmTscMapping } from "@clocksource/x86";
import { mergeTraces, newMergeStats, openTrace, planMerge, type MergedEvent, type TraceEvent } from "../src/index.js";
import { appendOptionsV7, LeWriter } from "./support/trace-dat-inject.js";
import { fixtureFile } from "./support/trace-dat-fixtures.js";

const registry = mappingCodecRegistry([kvmTscCodec]);
const dir = mkdtempSync(join(tmpdir(), "clocksource-timeshift-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOST_SRC = fixtureFile("marker-mono", "v7-zstd"); // another recording: its own TRACEID, which the guest names as its peer
const GUEST_SRC = fixtureFile("sched-x86tsc", "v7-none");
/** The host's file with the GUEST option `trace-cmd record -A` writes (trace-cmd report pairs the files by it). */
const HOST = join(dir, "host.dat");

interface Sample {
  readonly time: bigint;
  readonly offset: bigint;
  readonly scaling: bigint;
  readonly frac: number;
}

/** A TIME_SHIFT option payload: peer id, flags, per CPU {count, times, offsets, scalings}, then per CPU fractions. */
function timeShift(peer: bigint, flags: number, cpus: readonly (readonly Sample[])[]): Uint8Array {
  const w = new LeWriter().u64(peer).u32(flags).u32(cpus.length);
  for (const c of cpus) {
    w.u32(c.length);
    for (const s of c) w.u64(s.time);
    for (const s of c) w.u64(s.offset);
    for (const s of c) w.u64(s.scaling);
  }
  for (const c of cpus) for (const s of c) w.u64(s.frac);
  return w.done();
}

async function readEvents(path: string): Promise<{ events: TraceEvent[]; traceId: bigint | undefined }> {
  const r = await openTrace(path);
  const events: TraceEvent[] = [];
  for await (const b of r.batches()) events.push(...b);
  await r.close();
  return { events, traceId: r.info.timeRecords.traceId };
}

let hostReady: Promise<void> | undefined;
function prepareHost(): Promise<void> {
  hostReady ??= (async () => {
    const guest = await readEvents(GUEST_SRC);
    const record = new LeWriter().str("vm1").u64(guest.traceId as bigint).u32(2).u32(0).u32(4242).u32(1).u32(4243).done();
    writeFileSync(HOST, appendOptionsV7(readFileSync(HOST_SRC), [{ id: 13, payload: record }]));
  })();
  return hostReady;
}

let n = 0;
async function guestWith(flags: number, cpus: (first: bigint, last: bigint) => (readonly Sample[])[]): Promise<{ path: string; events: TraceEvent[] }> {
  await prepareHost();
  const host = await readEvents(HOST);
  const guest = await readEvents(GUEST_SRC);
  const ts = guest.events.map((e) => e.ts);
  const first = ts.reduce((a, b) => (a < b ? a : b));
  const last = ts.reduce((a, b) => (a > b ? a : b));
  const path = join(dir, `guest-${++n}.dat`);
  writeFileSync(path, appendOptionsV7(readFileSync(GUEST_SRC), [{ id: 12, payload: timeShift(host.traceId as bigint, flags, cpus(first, last)) }]));
  return { path, events: guest.events };
}

async function merged(guest: string): Promise<{ out: MergedEvent[]; notes: string[] }> {
  const plan = await planMerge(
    [
      { name: "host", path: HOST, reader: await openTrace(HOST) },
      { name: "vm1", path: guest, reader: await openTrace(guest) },
    ],
    { registry, tscOffsetEvents: "ignore" },
  );
  const out: MergedEvent[] = [];
  for await (const b of mergeTraces(plan.inputs, plan, newMergeStats())) out.push(...b);
  return { out, notes: plan.notes };
}

/** The sample pair trace-cmd interpolates between for `ts`: the last sample at or before it, clamped to the ends. */
function pair(samples: readonly Sample[], ts: bigint): [Sample, Sample] {
  let i = 0;
  for (let k = 0; k < samples.length; k++) if ((samples[k] as Sample).time <= ts) i = k;
  i = Math.min(i, samples.length - 2);
  return [samples[i] as Sample, samples[i + 1] as Sample];
}

/** trace-cmd's interpolated correction, independently: offset = o0 + ((ts − t0)(o1 − o0) + Δ/2) / Δ, C division. */
function interpolated(samples: readonly Sample[], ts: bigint): bigint {
  const [a, b] = pair(samples, ts);
  const delta = b.time - a.time;
  return ts + a.offset + ((ts - a.time) * (b.offset - a.offset) + delta / 2n) / delta;
}

describe("merging a guest trace.dat by its TIME_SHIFT samples", () => {
  it("interpolated (ptp) samples: trace-cmd's interpolation, every event flagged as an estimate of unknown bound", async () => {
    let samples: Sample[][] = [];
    const g = await guestWith(1, (first, last) => {
      samples = [
        [
          { time: first - 1000n, offset: 5_000n, scaling: 1n, frac: 0 },
          { time: (first + last) / 2n, offset: 9_000n, scaling: 1n, frac: 0 },
          { time: last + 1000n, offset: -4_000n, scaling: 1n, frac: 0 },
        ],
        [
          { time: first, offset: 70_000n, scaling: 1n, frac: 0 },
          { time: last, offset: 71_234n, scaling: 1n, frac: 0 },
        ],
      ];
      return samples;
    });
    const { out, notes } = await merged(g.path);
    expect(notes.join("\n")).toMatch(/vm1: TIME_SHIFT samples in .* map vm1\.tsc → host\.monotonic/);
    const guest = out.filter((m) => m.machine === 1);
    expect(guest).toHaveLength(g.events.length);
    expect(guest.every((m) => m.boundNs === null)).toBe(true); // the file records no bound for ptp samples
    for (const m of guest) expect(m.ts).toBe(interpolated(samples[m.event.cpu] as Sample[], m.event.ts));
    for (let i = 1; i < out.length; i++) expect((out[i] as MergedEvent).ts >= (out[i - 1] as MergedEvent).ts).toBe(true);
  });

  it("unscaled kvm samples, several per CPU: each sample's offset from its time on, exact", async () => {
    let mid = 0n;
    const g = await guestWith(0, (first, last) => {
      mid = (first + last) / 2n;
      return [0, 1].map((cpu) => [
        { time: first - 10n, offset: -1_000_000n - BigInt(cpu) * 17n, scaling: 1n, frac: 0 },
        { time: mid, offset: 3_000_000n + BigInt(cpu) * 17n, scaling: 1n, frac: 0 },
      ]);
    });
    const { out } = await merged(g.path);
    const guest = out.filter((m) => m.machine === 1);
    expect(guest).toHaveLength(g.events.length);
    expect(guest.every((m) => m.boundNs === 0n)).toBe(true);
    for (const m of guest) {
      const cpu = BigInt(m.event.cpu) * 17n;
      expect(m.ts).toBe(m.event.ts + (m.event.ts < mid ? -1_000_000n - cpu : 3_000_000n + cpu));
    }
    for (let i = 1; i < out.length; i++) expect((out[i] as MergedEvent).ts >= (out[i - 1] as MergedEvent).ts).toBe(true);
  });

  it("a single scaled kvm sample: KVM's exact inverse per vCPU (trace-cmd adds the offset and ignores the scaling)", async () => {
    const ratio = (1n << 48n) + (1n << 36n); // the guest TSC runs 1/4096 faster
    const offsets = [-2_000_000n, -2_000_555n]; // TIME_SHIFT offset = −(KVM tsc-offset)
    const g = await guestWith(0, (first) => offsets.map((o) => [{ time: first, offset: o, scaling: ratio, frac: 48 }]));
    const { out } = await merged(g.path);
    const guest = out.filter((m) => m.machine === 1);
    expect(guest).toHaveLength(g.events.length);
    for (const m of guest) {
      const exact = new KvmTscMapping({ offset: -(offsets[m.event.cpu] as bigint), ratio, fracBits: 48 }).inverse(m.event.ts);
      expect(m.ts).toBe(exact);
      // What trace-cmd computes is off by the scaling's share of the timestamp:
      expect(m.ts).not.toBe(m.event.ts + (offsets[m.event.cpu] as bigint));
    }
    for (let i = 1; i < out.length; i++) expect((out[i] as MergedEvent).ts >= (out[i - 1] as MergedEvent).ts).toBe(true);
  });
});
