/**
 * The host's kvm_write_tsc_offset events in a merge: used when they agree with
 * causality and any mapping file, set aside (or refused, when demanded) when
 * they do not — as on PVM hosts, where the tracepoint reports an offset of
 * about minus the host's TSC that KVM never applies.
 */
import { describe, expect, it } from "vitest";
import { mappingCodecRegistry } from "@clocksource/core";
import { kvmTscCodec } from "@clocksource/x86";
import { kvmTscFile, mergeTraces, newMergeStats, planMerge, type MergedEvent, type PlanInput, type TraceEvent } from "../src/index.js";
import { ev, memoryReader } from "./support/memory-reader.js";

const registry = mappingCodecRegistry([kvmTscCodec]);
const TSC = { name: "x86-tsc", unit: "ticks" as const, source: "test" };
const T0 = 1_000_000_000_000n; // host TSC when the VM was created

function write(ts: bigint, vcpu: number, next: bigint, pid = 4242): TraceEvent {
  return { ts, cpu: 1, pid, tid: pid, comm: "vmm", name: "kvm:kvm_write_tsc_offset", fields: { vcpu_id: vcpu, previous_tsc_offset: 0n, next_tsc_offset: BigInt.asUintN(64, next) }, buffer: "" };
}

/** A host trace (offset writes, then exits) and a guest whose TSC equals the host's plus `trueOffset`. */
function scenario(reported: bigint, trueOffset: bigint, extraWrites: TraceEvent[] = []) {
  const host: TraceEvent[] = [write(T0, 0, reported), ...extraWrites];
  const guest: TraceEvent[] = [];
  for (let k = 0; k < 50; k++) {
    const h = T0 + 1_000n + BigInt(k) * 100n;
    host.push(ev(h, 1, "kvm:kvm_pio"));
    guest.push(ev(BigInt.asUintN(64, h - 10n + trueOffset), 0, "guest:tsc"));
  }
  host.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const inputs = (): PlanInput[] => [
    { name: "host", path: "host.dat", reader: memoryReader(host, { clock: TSC }) },
    { name: "vm1", path: "vm1.jsonl", reader: memoryReader(guest, { clock: TSC }) },
  ];
  const reopen = (i: PlanInput) => Promise.resolve(memoryReader(i.name === "host" ? host : guest, { clock: TSC }));
  return { inputs, reopen };
}

function mappingFile(offset: bigint) {
  return { guest: "vm1", path: "vm1.mapping.json", file: kvmTscFile("debugfs", [{ validFrom: null, validUntil: null, vcpus: new Map([[0, { tscOffset: offset, ratio: 1n, fracBits: 0 }]]) }]) };
}

async function run(plan: Awaited<ReturnType<typeof planMerge>>): Promise<MergedEvent[]> {
  const out: MergedEvent[] = [];
  for await (const b of mergeTraces(plan.inputs, plan, newMergeStats())) out.push(...b);
  return out;
}

describe("kvm_write_tsc_offset in a merge", () => {
  it("uses the events alone when causality holds, at the exact host instant of each write", async () => {
    const s = scenario(-777n, -777n);
    const plan = await planMerge(s.inputs(), { registry, reopen: s.reopen });
    expect(plan.notes.join("\n")).toMatch(/vm1: kvm_write_tsc_offset events give the TSC offsets \(50 guest timestamps fall inside/);
    const out = await run(plan);
    for (const m of out.filter((x) => x.machine === 1)) expect(m.ts).toBe(m.event.ts + 777n);
  });

  it("sets aside an offset the host reports but never applies (PVM), and says why", async () => {
    // The tracepoint says guest = host − T0; the guest's TSC is really the host's.
    const s = scenario(-T0, 0n);
    const p = planMerge(s.inputs(), { registry, reopen: s.reopen });
    await expect(p).rejects.toThrow(/no mapping leads from vm1\.tsc to host\.tsc/);
    const q = planMerge(s.inputs(), { registry, reopen: s.reopen, tscOffsetEvents: "require" });
    await expect(q).rejects.toThrow(/vm1: the kvm_write_tsc_offset offsets break causality \(50 of 50 guest timestamps break causality, e\.g\. vCPU 0: guest \d+ maps to \d+ \(vCPU created at 1000000000000, host trace ends at \d+\)\)/);
  });

  it("reports the conflict with a debugfs mapping file and keeps the mapping causality supports", async () => {
    const s = scenario(-T0, 0n);
    const plan = await planMerge(s.inputs(), { registry, reopen: s.reopen, mappings: [mappingFile(0n)] });
    const notes = plan.notes.join("\n");
    expect(notes).toMatch(/vm1: CONFLICT: kvm_write_tsc_offset events \(host\.dat\) and vm1\.mapping\.json .* give different offsets; events: 50 of 50 guest timestamps break causality/);
    expect(notes).toMatch(/vm1: using vm1\.mapping\.json .*; the events are set aside/);
    const out = await run(plan);
    for (const m of out.filter((x) => x.machine === 1)) expect(m.ts).toBe(m.event.ts);
    await expect(planMerge(s.inputs(), { registry, reopen: s.reopen, mappings: [mappingFile(0n)], tscOffsetEvents: "require" })).rejects.toThrow(/break causality/);
  });

  it("notes agreement with a mapping file", async () => {
    const s = scenario(-777n, -777n);
    const plan = await planMerge(s.inputs(), { registry, reopen: s.reopen, mappings: [mappingFile(-777n)] });
    expect(plan.notes.join("\n")).toMatch(/vm1: the host's kvm_write_tsc_offset events agree with vm1\.mapping\.json/);
  });

  it("needs --vm-pid when the host trace holds several VMs' writes", async () => {
    const s = scenario(-777n, -777n, [write(T0 + 5n, 0, -999_999n, 5151)]);
    const plan = planMerge(s.inputs(), { registry, reopen: s.reopen });
    await expect(plan).rejects.toThrow(/no mapping leads/);
    const named = await planMerge(s.inputs(), { registry, reopen: s.reopen, vmThreads: new Map([["vm1", { pid: 4242 }]]) });
    expect(named.notes.join("\n")).toMatch(/kvm_write_tsc_offset events give the TSC offsets/);
    const out = await run(named);
    for (const m of out.filter((x) => x.machine === 1)) expect(m.ts).toBe(m.event.ts + 777n);
  });
});
