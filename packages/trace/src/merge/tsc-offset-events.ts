/**
 * The host's `kvm:kvm_write_tsc_offset` events as epochs of a guest's TSC
 * mapping: each event says that from its host instant on, vCPU `vcpu_id`
 * runs with `guest = host + next_tsc_offset` (mod 2^64, unscaled).
 *
 * They must not be trusted blindly: some hosts (PVM, for one) report an offset
 * that is never applied. {@link checkCausality} tests a mapping against what
 * must hold whatever the offset: a guest's events happen after its vCPU was
 * created (the first such event) and before the host trace ends.
 */
import { ClocksourceError, isClocksourceError, type DomainEdge, type EdgeConverter, type MappingCodecRegistry, mappingFileEdges } from "@clocksource/core";
import type { TraceEvent } from "../model/event.js";
import { KVM_TSC_KIND, kvmTscFile } from "./time-edges.js";

/** One offset write seen in the host trace. */
export interface TscOffsetWrite {
  /** Host timestamp of the write (the host trace's clock). */
  readonly ts: bigint;
  readonly vcpu: number;
  readonly previous: bigint;
  readonly next: bigint;
  /** Host thread (and process, when known) that made the write: a vCPU thread of the VM. */
  readonly tid: number;
  readonly pid: number;
}

export const TSC_OFFSET_EVENT = "kvm:kvm_write_tsc_offset";

function asBig(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/** Reads one event as an offset write, or undefined when it is not one (or lacks its fields). */
export function tscOffsetWrite(e: TraceEvent): TscOffsetWrite | undefined {
  if (e.name !== TSC_OFFSET_EVENT) return undefined;
  const vcpu = e.fields.vcpu_id;
  const previous = asBig(e.fields.previous_tsc_offset);
  const next = asBig(e.fields.next_tsc_offset);
  if (typeof vcpu !== "number" || previous === undefined || next === undefined) return undefined;
  return { ts: e.ts, vcpu, previous: BigInt.asUintN(64, previous), next: BigInt.asUintN(64, next), tid: e.tid, pid: e.pid };
}

/** Which host threads belong to a VM: its process id, or an explicit list of vCPU threads. */
export interface VmThreads {
  readonly pid?: number;
  readonly tids?: readonly number[];
}

/** The writes that belong to one VM (all of them when `vm` names none). */
export function writesOf(writes: readonly TscOffsetWrite[], vm: VmThreads | undefined): TscOffsetWrite[] {
  if (!vm || (vm.pid === undefined && (vm.tids?.length ?? 0) === 0)) return [...writes];
  const tids = new Set(vm.tids ?? []);
  return writes.filter((w) => (vm.pid !== undefined && (w.pid === vm.pid || w.tid === vm.pid)) || tids.has(w.tid));
}

/**
 * Edges guest.tsc ↔ host.tsc from offset writes (one vCPU's epochs per write,
 * unscaled). Values before a vCPU's first write are outside every epoch.
 */
export function tscOffsetEdges(guest: string, host: string, writes: readonly TscOffsetWrite[], registry: MappingCodecRegistry, source: string): [DomainEdge, DomainEdge] {
  if (writes.length === 0) throw new ClocksourceError("INVALID_ARGUMENT", `${source}: no ${TSC_OFFSET_EVENT} events`);
  if (!registry.has(KVM_TSC_KIND)) throw new ClocksourceError("INVALID_ARGUMENT", `the ${KVM_TSC_KIND} mapping kind is not registered (needed for ${TSC_OFFSET_EVENT})`);
  const byVcpu = new Map<number, TscOffsetWrite[]>();
  for (const w of writes) {
    let l = byVcpu.get(w.vcpu);
    if (!l) byVcpu.set(w.vcpu, (l = []));
    l.push(w);
  }
  const perVcpu = new Map<number, [DomainEdge, DomainEdge]>();
  for (const [vcpu, list] of byVcpu) {
    list.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    // Validity is in the guest's domain: epoch k covers the image of [t_k, t_k+1) under its own offset.
    const epochs = list.map((w, k) => {
      const from = BigInt.asUintN(64, w.ts + w.next);
      const nextW = list[k + 1];
      let until: bigint | null = nextW ? BigInt.asUintN(64, nextW.ts + w.next) : null;
      // An image that wraps past 2^64 cannot be one range: keep its first part.
      if (until !== null && until < from) until = null;
      return { validFrom: from, validUntil: until, vcpus: new Map([[vcpu, { tscOffset: BigInt.asIntN(64, w.next), ratio: 1n, fracBits: 0 }]]) };
    });
    const file = kvmTscFile(`${source} (${TSC_OFFSET_EVENT}, vCPU ${vcpu})`, epochs);
    perVcpu.set(vcpu, mappingFileEdges(file, registry, { from: guest, to: host, source: `${source} ${TSC_OFFSET_EVENT}`, toIsNanoseconds: false }));
  }
  const vcpus = [...perVcpu.keys()].sort((a, b) => a - b);
  const edge = (dir: 0 | 1): DomainEdge => ({
    from: dir === 0 ? guest : host,
    to: dir === 0 ? host : guest,
    exact: true,
    boundNs: 0n,
    source: `${source} ${TSC_OFFSET_EVENT} (${writes.length} writes, vCPUs ${vcpus.join(",")})${dir === 1 ? ", inverted" : ""}`,
    perCpu: true,
    epochs: Math.max(...[...byVcpu.values()].map((l) => l.length)),
    converter(cpu: number): EdgeConverter {
      const e = perVcpu.get(cpu);
      if (!e) throw new ClocksourceError("INVALID_ARGUMENT", `${source}: no ${TSC_OFFSET_EVENT} for vCPU ${cpu} (seen: ${vcpus.join(", ")}): is this the trace of another VM?`);
      return e[dir].converter(cpu);
    },
  });
  return [edge(0), edge(1)];
}

/** What the causality test found for one mapping. */
export interface CausalityVerdict {
  readonly ok: boolean;
  /** Guest samples checked. */
  readonly checked: number;
  /** Samples that mapped before their vCPU existed or after the host trace ended. */
  readonly violations: number;
  /** One line for people. */
  readonly detail: string;
}

/**
 * Tests a guest → host mapping against causality: every sampled guest
 * timestamp (per vCPU) must map at or after that vCPU's creation (its first
 * offset write) and at or before the host trace's last event.
 */
export function checkCausality(
  samples: ReadonlyMap<number, readonly bigint[]>,
  edge: DomainEdge,
  created: ReadonlyMap<number, bigint>,
  hostEnd: bigint,
): CausalityVerdict {
  let checked = 0;
  let violations = 0;
  let example = "";
  for (const [cpu, values] of samples) {
    let conv: EdgeConverter;
    try {
      conv = edge.converter(cpu);
    } catch (e) {
      // A vCPU the mapping has no parameters for: nothing to check on it.
      if (isClocksourceError(e)) continue;
      throw e;
    }
    const a = BigUint64Array.from(values);
    const st = new Int32Array(a.length);
    conv.convert(a, a, st);
    for (let i = 0; i < a.length; i++) {
      let v: bigint | undefined = a[i] as bigint;
      if ((st[i] as number) < 0) v = conv.extrapolate(values[i] as bigint);
      checked++;
      const start = created.get(cpu);
      if (v === undefined || (start !== undefined && v < start) || v > hostEnd) {
        violations++;
        if (!example) example = `vCPU ${cpu}: guest ${values[i]} maps to ${v ?? "nothing"} (vCPU created at ${start ?? "?"}, host trace ends at ${hostEnd})`;
      }
    }
  }
  return {
    ok: checked > 0 && violations === 0,
    checked,
    violations,
    detail: checked === 0 ? "no guest timestamps to check" : violations === 0 ? `${checked} guest timestamps fall inside the host's trace after their vCPU's creation` : `${violations} of ${checked} guest timestamps break causality, e.g. ${example}`,
  };
}
