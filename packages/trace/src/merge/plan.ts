/**
 * Planning a merge: which clock domain each input's timestamps are in, every
 * mapping that could carry them to the target (mapping files, the traces' own
 * time-sync records, the host's TSC-offset writes, declared offsets), the
 * cross-checks between them, and the graph the merger routes through.
 *
 * Several exact mappings between the same two domains are ranked by how
 * directly the user stated them: a declared offset, then a mapping file, then
 * the trace's TIME_SHIFT, then the host's `kvm_write_tsc_offset` events. The
 * last are checked against causality before use, and against a mapping file
 * when there is one: where they disagree the conflict is reported and the
 * mapping causality supports is used (or the merge stops, when the user
 * demanded the events).
 */
import { ClocksourceError, DomainGraph, isClocksourceError, mappingFileEdges, type DomainEdge, type MappingCodecRegistry, type MappingFile } from "@clocksource/core";
import type { TraceEvent, TraceReader } from "../model/event.js";
import { bindFileDomain, canonicalClock, clockUnit, domainIsNanoseconds, domainOf } from "./clock-domains.js";
import type { MergeInput } from "./merger.js";
import { offsetEdges, perfTimeConvEdges, timeShiftEdges, tsc2nsecEdges } from "./time-edges.js";
import { checkCausality, tscOffsetEdges, tscOffsetWrite, writesOf, type TscOffsetWrite, type VmThreads } from "./tsc-offset-events.js";

/** One trace to merge. */
export interface PlanInput {
  /** The input's name (unique in the merge). */
  readonly name: string;
  /** The machine it was recorded on (default: its name). Inputs of one machine share its clock domains. */
  readonly machine?: string;
  /** For messages. */
  readonly path: string;
  readonly reader: TraceReader;
  /** The clock to assume when the trace does not say (or to override it). */
  readonly clock?: string;
}

/** A mapping file given for a guest. */
export interface PlanMapping {
  readonly guest: string;
  readonly path: string;
  readonly file: MappingFile;
}

export interface PlanOptions {
  readonly registry: MappingCodecRegistry;
  readonly mappings?: readonly PlanMapping[];
  /** `name`'s raw timestamps + offset = its parent's (same units), like `trace-cmd report --ts-offset`. */
  readonly offsets?: ReadonlyMap<string, bigint>;
  /** A guest's host (for nested guests); default: the first input. */
  readonly parents?: ReadonlyMap<string, string>;
  /** Target domain; default: the first input's clock domain. */
  readonly target?: string;
  /** Use the host's `kvm_write_tsc_offset` events: `auto` (when causality holds), `require`, `ignore`. */
  readonly tscOffsetEvents?: "auto" | "require" | "ignore";
  /** Which host threads belong to each guest's VM. */
  readonly vmThreads?: ReadonlyMap<string, VmThreads>;
  /** Ticks per second of tick-counting domains (for bounds and ns output). */
  readonly ticksPerSecond?: ReadonlyMap<string, bigint>;
  /** Opens a trace again (for the pre-pass over the host trace and the guests' first events). */
  readonly reopen?: (input: PlanInput) => Promise<TraceReader>;
}

/** What planning decided, ready for `mergeTraces`. */
export interface MergePlan {
  readonly graph: DomainGraph;
  readonly target: string;
  readonly inputs: MergeInput[];
  /** Decisions and conflicts, one line each, for the summary. */
  readonly notes: string[];
}

const machineOf = (i: PlanInput): string => i.machine ?? i.name;

function bufferDomains(input: PlanInput): Map<string, string> {
  const m = new Map<string, string>();
  const info = input.reader.info;
  const buffers = info.buffers.length > 0 ? info.buffers : [{ name: "", clock: info.clock, cpus: [] }];
  for (const b of buffers) {
    const clock = input.clock ?? b.clock.name;
    if (clock === null || clock === undefined) {
      throw new ClocksourceError("INVALID_ARGUMENT", `${input.path}: the trace does not say its clock${b.name ? ` (buffer ${b.name})` : ""}: give --clock ${input.name}=CLOCK`);
    }
    m.set(b.name, domainOf(machineOf(input), { name: clock, unit: clockUnit(clock), source: "" }) as string);
  }
  return m;
}

async function firstEvents(reader: TraceReader, perCpu: number): Promise<Map<number, bigint[]>> {
  const out = new Map<number, bigint[]>();
  try {
    for await (const batch of reader.batches()) {
      for (const e of batch) {
        let l = out.get(e.cpu);
        if (!l) out.set(e.cpu, (l = []));
        if (l.length < perCpu) l.push(e.ts);
      }
      if (out.size > 0 && [...out.values()].every((l) => l.length >= perCpu)) break;
    }
  } finally {
    await reader.close();
  }
  return out;
}

/** Reads the whole host trace once for its TSC-offset writes and its last timestamp. */
async function hostPrepass(reader: TraceReader): Promise<{ writes: TscOffsetWrite[]; end: bigint | null }> {
  const writes: TscOffsetWrite[] = [];
  let end: bigint | null = null;
  try {
    for await (const batch of reader.batches()) {
      for (const e of batch as readonly TraceEvent[]) {
        if (end === null || e.ts > end) end = e.ts;
        const w = tscOffsetWrite(e);
        if (w) writes.push(w);
      }
    }
  } finally {
    await reader.close();
  }
  return { writes, end };
}

/** Builds the graph and routes for a merge. */
export async function planMerge(inputs: readonly PlanInput[], options: PlanOptions): Promise<MergePlan> {
  if (inputs.length === 0) throw new ClocksourceError("INVALID_ARGUMENT", "nothing to merge");
  const names = new Set<string>();
  for (const i of inputs) {
    if (names.has(i.name)) throw new ClocksourceError("INVALID_ARGUMENT", `two inputs are named ${i.name}`);
    names.add(i.name);
  }
  const graph = new DomainGraph();
  const notes: string[] = [];
  const host = inputs[0] as PlanInput;
  const hostMachine = machineOf(host);
  const machines = new Set(inputs.map(machineOf));
  const list = [...machines].join(", ");
  const parentOf = (machine: string) => options.parents?.get(machine) ?? hostMachine;
  for (const [guest, parent] of options.parents ?? []) {
    if (!machines.has(guest)) throw new ClocksourceError("INVALID_ARGUMENT", `--parent names ${guest}, which is not a machine of the inputs (${list})`);
    if (!machines.has(parent)) throw new ClocksourceError("INVALID_ARGUMENT", `--parent ${guest}=${parent}: ${parent} is not a machine of the inputs`);
  }

  const domains = new Map<string, Map<string, string>>();
  for (const i of inputs) {
    const d = bufferDomains(i);
    domains.set(i.name, d);
    for (const dom of d.values()) graph.addDomain(dom);
  }
  const hostDomain = [...(domains.get(host.name) as Map<string, string>).values()][0];
  const target = options.target ?? (hostDomain as string);

  const hz = (domain: string) => options.ticksPerSecond?.get(domain) ?? null;

  // 1. Declared offsets: exact by declaration, ranked first.
  for (const [name, offset] of options.offsets ?? []) {
    const input = inputs.find((i) => machineOf(i) === name);
    if (!input) throw new ClocksourceError("INVALID_ARGUMENT", `--offset names ${name}, which is not a machine of the inputs (${list})`);
    const parent = parentOf(name);
    if (parent === name) throw new ClocksourceError("INVALID_ARGUMENT", `--offset ${name}: it is the host; offsets apply to the other machines`);
    const from = [...(domains.get(input.name) as Map<string, string>).values()][0] as string;
    const to = `${parent}.${from.slice(from.indexOf(".") + 1)}`;
    for (const e of offsetEdges(from, to, offset, `--offset ${name}=${offset}`)) graph.addEdge(e);
    notes.push(`${name}: declared offset ${offset} (${from} → ${to})`);
  }

  // 2. Mapping files.
  const fileEdges = new Map<string, DomainEdge>();
  for (const m of options.mappings ?? []) {
    if (!machines.has(m.guest)) throw new ClocksourceError("INVALID_ARGUMENT", `--mapping names ${m.guest}, which is not a machine of the inputs (${list})`);
    const parent = parentOf(m.guest);
    const from = bindFileDomain(m.file.from, m.guest, parent);
    const to = bindFileDomain(m.file.to, m.guest, parent);
    const guestDomains = inputs.filter((i) => machineOf(i) === m.guest).flatMap((i) => [...(domains.get(i.name) as Map<string, string>).values()]);
    if (!guestDomains.includes(from) && !graph.has(from)) {
      notes.push(`${m.guest}: ${m.path} maps ${m.file.from}; the trace's clock is ${guestDomains.join(", ")} (another edge must connect them)`);
    }
    const toDomainNs = domainIsNanoseconds(to);
    const [fwd, inv] = mappingFileEdges(m.file, options.registry, { from, to, source: m.path, toIsNanoseconds: toDomainNs, toTicksPerSecond: hz(to) });
    graph.addEdge(fwd);
    graph.addEdge(inv);
    fileEdges.set(m.guest, fwd);
  }

  // 3. What the traces carry.
  for (const i of inputs) {
    const tr = i.reader.info.timeRecords;
    const own = domains.get(i.name) as Map<string, string>;
    const machine = machineOf(i);
    const tsc = `${machine}.tsc`;
    if (tr.tsc2nsec) for (const e of tsc2nsecEdges(tsc, `${machine}.${canonicalClock("local")}`, tr.tsc2nsec, i.path)) graph.addEdge(e);
    if (tr.perfTimeConv) for (const e of perfTimeConvEdges(tsc, `${machine}.${canonicalClock("perf")}`, tr.perfTimeConv, i.path)) graph.addEdge(e);
    if (tr.timeShift && machine !== hostMachine) {
      // The peer is the input whose TRACEID the samples name, else one of the guest's parent's.
      const peer = inputs.find((p) => p.reader.info.timeRecords.traceId === tr.timeShift?.peerTraceId) ?? inputs.find((p) => machineOf(p) === parentOf(machine));
      if (peer) {
        const from = [...own.values()][0] as string;
        const to = [...(domains.get(peer.name) as Map<string, string>).values()][0] as string;
        for (const e of timeShiftEdges(from, to, tr.timeShift, options.registry, i.path)) graph.addEdge(e);
        notes.push(`${i.name}: TIME_SHIFT samples in ${i.path} map ${from} → ${to}`);
      }
    }
  }

  // 4. The host's TSC-offset writes, for guests whose clock is the TSC.
  const mode = options.tscOffsetEvents ?? "auto";
  // A declared offset is the user's word: no need to read the host trace for events to check.
  const tscGuests = inputs.filter((i) => machineOf(i) !== hostMachine && !options.offsets?.has(machineOf(i)) && [...(domains.get(i.name) as Map<string, string>).values()].some((d) => d === `${machineOf(i)}.tsc`));
  if (mode !== "ignore" && tscGuests.length > 0 && options.reopen) {
    const pre = await hostPrepass(await options.reopen(host));
    const done = new Set<string>();
    for (const g of tscGuests) {
      const gm = machineOf(g);
      if (parentOf(gm) !== hostMachine || done.has(gm)) continue;
      done.add(gm);
      const writes = writesOf(pre.writes, options.vmThreads?.get(gm));
      if (writes.length === 0) {
        if (mode === "require") throw new ClocksourceError("INVALID_ARGUMENT", `${gm}: --tsc-offset-events require, but ${host.path} holds no kvm_write_tsc_offset events${options.vmThreads?.get(gm) ? " of that VM's threads" : ""}`);
        continue;
      }
      const pids = new Set(writes.map((w) => w.pid >= 0 ? w.pid : w.tid));
      if (!options.vmThreads?.get(gm) && pids.size > 1) {
        notes.push(`${gm}: the host trace has kvm_write_tsc_offset events from several processes (${[...pids].join(", ")}); name the VM's with --vm-pid ${gm}=PID to use them`);
        if (mode === "require") throw new ClocksourceError("INVALID_ARGUMENT", `${gm}: kvm_write_tsc_offset events of several VMs: name this one's with --vm-pid ${gm}=PID`);
        continue;
      }
      const from = `${gm}.tsc`;
      const to = `${hostMachine}.tsc`;
      const [fwd, inv] = tscOffsetEdges(from, to, writes, options.registry, host.path);
      const created = new Map<number, bigint>();
      for (const w of writes) if (!created.has(w.vcpu) || (created.get(w.vcpu) as bigint) > w.ts) created.set(w.vcpu, w.ts);
      const samples = await firstEvents(await options.reopen(g), 64);
      const end = pre.end ?? 0n;
      const byEvents = checkCausality(samples, fwd, created, end);
      const file = fileEdges.get(gm);
      if (file) {
        const byFile = checkCausality(samples, file, created, end);
        const agree = offsetsAgree(writes, file);
        if (agree) {
          notes.push(`${gm}: the host's kvm_write_tsc_offset events agree with ${file.source}`);
          continue;
        }
        notes.push(`${gm}: CONFLICT: kvm_write_tsc_offset events (${host.path}) and ${file.source} give different offsets; events: ${byEvents.detail}; file: ${byFile.detail}`);
        if (mode === "require") {
          if (!byEvents.ok) throw new ClocksourceError("INVALID_TRACE", `${gm}: the kvm_write_tsc_offset offsets break causality (${byEvents.detail}); the mapping file's hold (${byFile.detail})`);
          graph.addEdge(fwd);
          graph.addEdge(inv);
          notes.push(`${gm}: using the events, as required`);
        } else if (!byFile.ok && byEvents.ok) {
          throw new ClocksourceError("INVALID_TRACE", `${gm}: ${file.source} breaks causality (${byFile.detail}) where the host's kvm_write_tsc_offset events hold: is it the mapping of another VM or run? (--tsc-offset-events require uses the events)`);
        } else notes.push(`${gm}: using ${file.source}; the events are set aside`);
        continue;
      }
      if (!byEvents.ok) {
        if (mode === "require") throw new ClocksourceError("INVALID_TRACE", `${gm}: the kvm_write_tsc_offset offsets break causality (${byEvents.detail}); this host reports offsets it does not apply: give the debugfs mapping (clocksource kvm-mapping) or --offset`);
        notes.push(`${gm}: kvm_write_tsc_offset events set aside: ${byEvents.detail} (on some hosts, PVM among them, the tracepoint reports an offset KVM never applies)`);
        continue;
      }
      graph.addEdge(fwd);
      graph.addEdge(inv);
      notes.push(`${gm}: kvm_write_tsc_offset events give the TSC offsets (${byEvents.detail})`);
    }
  }

  const mergeInputs: MergeInput[] = inputs.map((i) => ({
    name: i.name,
    machine: machineOf(i),
    reader: i.reader,
    domains: domains.get(i.name) as Map<string, string>,
    cpus: [...new Set(i.reader.info.buffers.flatMap((b) => b.cpus))],
  }));
  // Fail before reading a single event when an input cannot reach the target.
  for (const mi of mergeInputs) for (const d of mi.domains.values()) graph.requirePath(d, target);
  return { graph, target, inputs: mergeInputs, notes };
}

/** Do the events' latest offset per vCPU equal the mapping file's at the same host instant? */
function offsetsAgree(writes: readonly TscOffsetWrite[], file: DomainEdge): boolean {
  // Map host instant → guest with the events' offset, then back through the file's edge: equal iff the
  // file's offset at that instant is the same.
  const latest = new Map<number, TscOffsetWrite>();
  for (const w of writes) {
    const l = latest.get(w.vcpu);
    if (!l || l.ts < w.ts) latest.set(w.vcpu, w);
  }
  for (const [vcpu, w] of latest) {
    let conv;
    try {
      conv = file.converter(vcpu);
    } catch (e) {
      // The file has no parameters for a vCPU the events name: they cannot agree.
      if (isClocksourceError(e)) return false;
      throw e;
    }
    const guest = BigInt.asUintN(64, w.ts + w.next);
    const a = new BigUint64Array([guest]);
    const st = new Int32Array(1);
    conv.convert(a, a, st, 1);
    if ((st[0] as number) < 0 || a[0] !== w.ts) return false;
  }
  return true;
}
