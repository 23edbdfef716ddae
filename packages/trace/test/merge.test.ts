import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DomainGraph, mappingCodecRegistry, type DomainEdge } from "@clocksource/core";
import { kvmTscCodec, KvmTscMapping } from "@clocksource/x86";
import { kvmTscFile, MERGE_FLAG, mergeTraces, newMergeStats, offsetEdges, planMerge, type MergedEvent, type TraceEvent } from "../src/index.js";
import { ev, memoryReader } from "./support/memory-reader.js";

const registry = mappingCodecRegistry([kvmTscCodec]);
const TSC = { name: "x86-tsc", unit: "ticks" as const, source: "test" };

async function collect(gen: AsyncGenerator<MergedEvent[]>): Promise<MergedEvent[]> {
  const out: MergedEvent[] = [];
  for await (const b of gen) out.push(...b);
  return out;
}

/** Events in the order readers give: raw ts, then CPU. */
function sorted(events: TraceEvent[]): TraceEvent[] {
  return [...events].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.cpu - b.cpu));
}

function isNonDecreasing(out: readonly MergedEvent[]): boolean {
  for (let i = 1; i < out.length; i++) if ((out[i] as MergedEvent).ts < (out[i - 1] as MergedEvent).ts) return false;
  return true;
}

describe("mergeTraces", () => {
  it("puts a guest's events on the host TSC through a scaled per-vCPU KVM mapping with two epochs, exactly and in order", async () => {
    const ratio = (1n << 48n) + (1n << 40n); // the guest TSC runs 1/256 faster than the host's
    const base = [-1_000_000n, 40_000_000n]; // the guest TSC jumps forward at the epoch switch
    const params = (vcpu: number, epoch: number) => ({ offset: (base[epoch] as bigint) + BigInt(vcpu * 777), ratio, fracBits: 48 });
    const gSwitch = 1_500_000n; // guest-domain start of epoch 1 (both vCPUs)
    const host: TraceEvent[] = [];
    const guest: TraceEvent[] = [];
    const expected: string[] = [];
    for (let k = 0; k < 500; k++) {
      const h = 1_200_000n + BigInt(k) * 4_321n;
      host.push(ev(h, k % 2));
      expected.push(`0:${h}:${h}`);
      const vcpu = (k >> 1) % 2;
      let p = params(vcpu, 0);
      let g = new KvmTscMapping(p).forward(h + 17n);
      if (g >= gSwitch) {
        p = params(vcpu, 1);
        g = new KvmTscMapping(p).forward(h + 17n);
      }
      guest.push(ev(g, vcpu));
      expected.push(`1:${g}:${new KvmTscMapping(p).inverse(g)}`);
    }
    const file = kvmTscFile("test", [
      { validFrom: null, validUntil: gSwitch, vcpus: new Map([0, 1].map((v) => [v, { tscOffset: params(v, 0).offset, ratio, fracBits: 48 }])) },
      { validFrom: gSwitch, validUntil: null, vcpus: new Map([0, 1].map((v) => [v, { tscOffset: params(v, 1).offset, ratio, fracBits: 48 }])) },
    ]);
    const plan = await planMerge(
      [
        { name: "host", path: "host.dat", reader: memoryReader(sorted(host), { clock: TSC }) },
        { name: "vm1", path: "vm1.dat", reader: memoryReader(sorted(guest), { clock: TSC }) },
      ],
      { registry, mappings: [{ guest: "vm1", path: "vm1.mapping.json", file }] },
    );
    expect(plan.target).toBe("host.tsc");
    const stats = newMergeStats();
    const out = await collect(mergeTraces(plan.inputs, plan, stats));
    expect(out).toHaveLength(1000);
    expect(isNonDecreasing(out)).toBe(true);
    expect(out.map((m) => `${m.machine}:${m.event.ts}:${m.ts}`).sort()).toEqual(expected.sort());
    expect(out.every((m) => m.flags === 0 || m.flags === MERGE_FLAG.orderUnknown)).toBe(true);
    expect(stats.outOfOrder).toBe(0);
    expect(stats.machines[1]?.epochsUsed.size).toBe(2);
    expect(stats.machines[1]?.maxBoundNs).toBe(0n);
    // Guest events are 17 host ticks after host events: distinct, exact, so no order is unknown.
    expect(stats.orderUnknown).toBe(0);
  });

  it("composes a nested guest's mapping through its parent (L2 → L1 → L0), per vCPU and scaled", async () => {
    const l1Params = { tscOffset: -1_000_000n, ratio: (1n << 48n) + (1n << 44n), fracBits: 48 };
    const l2Offsets = [-33n, -44n];
    const host = [ev(5_000_000n, 0), ev(9_000_000n, 1)];
    const l1 = [ev(6_000_000n, 0)];
    const l2 = [ev(7_000_000n, 0), ev(8_000_000n, 1)];
    const l1File = kvmTscFile("l1", [{ validFrom: null, validUntil: null, vcpus: new Map([[0, l1Params], [1, l1Params]]) }]);
    const l2File = kvmTscFile("l2", [{ validFrom: null, validUntil: null, vcpus: new Map(l2Offsets.map((o, v) => [v, { tscOffset: o, ratio: 1n, fracBits: 0 }])) }]);
    const plan = await planMerge(
      [
        { name: "host", path: "h", reader: memoryReader(host, { clock: TSC }) },
        { name: "l1", path: "l1", reader: memoryReader(l1, { clock: TSC }) },
        { name: "l2", path: "l2", reader: memoryReader(l2, { clock: TSC }) },
      ],
      { registry, parents: new Map([["l2", "l1"]]), mappings: [{ guest: "l1", path: "l1.json", file: l1File }, { guest: "l2", path: "l2.json", file: l2File }], tscOffsetEvents: "ignore" },
    );
    const out = await collect(mergeTraces(plan.inputs, plan, newMergeStats()));
    const l1Map = new KvmTscMapping({ offset: l1Params.tscOffset, ratio: l1Params.ratio, fracBits: 48 });
    // L2's vCPU n runs on L1's vCPU n here: an L2 timestamp goes to L1's TSC with L2's offset, then to the host's.
    for (const m of out.filter((x) => x.input === 2)) {
      const inL1 = m.event.ts - (l2Offsets[m.event.cpu] as bigint);
      expect(m.ts).toBe(l1Map.inverse(inL1));
    }
    expect(plan.graph.requirePath("l2.tsc", "host.tsc").edges.map((e) => e.source)).toEqual([expect.stringMatching(/^l2\.json/), expect.stringMatching(/^l1\.json/)]);
    expect(isNonDecreasing(out)).toBe(true);
  });

  it("fails before reading any event when a guest's clock cannot reach the target", async () => {
    const p = planMerge(
      [
        { name: "host", path: "host.dat", reader: memoryReader([ev(1n, 0)], { clock: TSC }) },
        { name: "vm1", path: "vm1.dat", reader: memoryReader([ev(1n, 0)], { clock: TSC }) },
      ],
      { registry },
    );
    await expect(p).rejects.toThrow(/no mapping leads from vm1\.tsc to host\.tsc/);
  });

  it("keeps, flags and extrapolates events outside every epoch", async () => {
    const file = kvmTscFile("test", [{ validFrom: 1_000n, validUntil: null, vcpus: new Map([[0, { tscOffset: 100n, ratio: 1n, fracBits: 0 }]]) }]);
    const plan = await planMerge(
      [
        { name: "host", path: "h", reader: memoryReader([ev(10n, 0), ev(5_000n, 0)], { clock: TSC }) },
        { name: "vm1", path: "g", reader: memoryReader([ev(500n, 0), ev(2_000n, 0)], { clock: TSC }) },
      ],
      { registry, mappings: [{ guest: "vm1", path: "m.json", file }] },
    );
    const stats = newMergeStats();
    const out = await collect(mergeTraces(plan.inputs, plan, stats));
    const g = out.filter((m) => m.machine === 1);
    expect(g.map((m) => [m.ts, m.flags & MERGE_FLAG.outsideEpoch])).toEqual([[400n, MERGE_FLAG.outsideEpoch], [1_900n, 0]]);
    expect(stats.machines[1]?.outsideEpoch).toBe(1);
  });

  it("flags events of different machines closer than their combined uncertainty", async () => {
    const graph = new DomainGraph();
    const [fwd] = offsetEdges("vm1.monotonic", "host.monotonic", 0n, "test");
    const estimated: DomainEdge = { ...fwd, exact: false, boundNs: 1_000n };
    graph.addEdge(estimated);
    const mono = { name: "mono", unit: "ns" as const, source: "test" };
    const inputs = [
      { name: "host", reader: memoryReader([ev(10_000n, 0), ev(20_000n, 0)], { clock: mono }), domains: new Map([["", "host.monotonic"]]) },
      { name: "vm1", reader: memoryReader([ev(10_500n, 0), ev(30_000n, 0)], { clock: mono }), domains: new Map([["", "vm1.monotonic"]]) },
    ];
    const stats = newMergeStats();
    const out = await collect(mergeTraces(inputs, { graph, target: "host.monotonic" }, stats));
    expect(out.map((m) => [m.machine, m.ts, (m.flags & MERGE_FLAG.orderUnknown) !== 0])).toEqual([
      [0, 10_000n, false],
      [1, 10_500n, true],
      [0, 20_000n, false],
      [1, 30_000n, false],
    ]);
    expect(stats.orderUnknown).toBe(1);
    expect(stats.machines[1]?.maxBoundNs).toBe(1_000n);
  });

  it("compares ns bounds with tick gaps at the target's rate, and treats them as unknown without one", async () => {
    const graph = new DomainGraph();
    const [fwd] = offsetEdges("vm1.tsc", "host.tsc", 0n, "test");
    graph.addEdge({ ...fwd, exact: false, boundNs: 1_000n });
    const inputs = () => [
      { name: "host", reader: memoryReader([ev(10_000n, 0), ev(20_000n, 0)], { clock: TSC }), domains: new Map([["", "host.tsc"]]) },
      { name: "vm1", reader: memoryReader([ev(11_500n, 0), ev(30_000n, 0)], { clock: TSC }), domains: new Map([["", "vm1.tsc"]]) },
    ];
    // 1000 ns at 2 GHz = 2000 ticks: 1500 ticks apart is closer than that.
    const at2GHz = newMergeStats();
    await collect(mergeTraces(inputs(), { graph, target: "host.tsc", targetUnit: { ns: false, ticksPerSecond: 2_000_000_000n } }, at2GHz));
    expect(at2GHz.orderUnknown).toBe(1);
    // At 1 GHz it is 1000 ticks: 1500 apart is known.
    const at1GHz = newMergeStats();
    await collect(mergeTraces(inputs(), { graph, target: "host.tsc", targetUnit: { ns: false, ticksPerSecond: 1_000_000_000n } }, at1GHz));
    expect(at1GHz.orderUnknown).toBe(0);
    // Rate unknown: a non-zero bound cannot be compared with a gap in ticks.
    const unknown = newMergeStats();
    await collect(mergeTraces(inputs(), { graph, target: "host.tsc", targetUnit: { ns: false, ticksPerSecond: null } }, unknown));
    expect(unknown.orderUnknown).toBe(3);
  });

  it("gives the order a sort by reference-mapped time gives, for any declared offsets and batch sizes", async () => {
    const tsArb = fc.bigInt({ min: 1n << 42n, max: (1n << 42n) + (1n << 40n) }); // no wrap past 0 or 2^64 with the offsets below
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(tsArb, fc.integer({ min: 0, max: 3 })), { maxLength: 60 }),
        fc.array(fc.tuple(tsArb, fc.integer({ min: 0, max: 3 })), { maxLength: 60 }),
        fc.bigInt({ min: -(1n << 41n), max: 1n << 41n }),
        fc.integer({ min: 1, max: 9 }),
        async (a, b, offset, batch) => {
          const host = sorted(a.map(([t, c]) => ev(t, c)));
          const guest = sorted(b.map(([t, c]) => ev(t, c)));
          const plan = await planMerge(
            [
              { name: "host", path: "h", reader: memoryReader(host, { clock: TSC }, batch) },
              { name: "vm1", path: "g", reader: memoryReader(guest, { clock: TSC }, batch) },
            ],
            { registry, offsets: new Map([["vm1", offset]]) },
          );
          const out = await collect(mergeTraces(plan.inputs, { ...plan, batchSize: batch }, newMergeStats()));
          const ref = [...host.map((e) => ({ m: 0, t: e.ts })), ...guest.map((e) => ({ m: 1, t: BigInt.asUintN(64, e.ts + offset) }))];
          ref.sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : 0));
          expect(out.map((m) => m.ts)).toEqual(ref.map((r) => r.t));
          expect(out.map((m) => `${m.machine}:${m.ts}`).sort()).toEqual(ref.map((r) => `${r.m}:${r.t}`).sort());
          // Wrapped values (negative offsets below 0) run backwards: counted, never dropped.
        },
      ),
      { numRuns: 200 },
    );
  });
});
