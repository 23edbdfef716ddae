import type { Fact, FactSet, FactValue } from "./facts.js";
import { ARCHES, FACT, type ArchName, type HypervisorName } from "./fact-names.js";
import type { Ranking } from "../selection/selector.js";
import { resolveVirtualization, type VirtualizationRole } from "./virtualization.js";

/** The schema id of {@link ProbeReport}; bumped on any incompatible change. */
export const PROBE_REPORT_SCHEMA = "clocksource.probe/v1";

/** A value with where it came from. */
export interface SourcedValue<T> {
  readonly value: T;
  readonly source: string | null;
  readonly confidence: Fact["confidence"];
}

/** The JSON document of `clocksource probe --json`; documented in docs/probe-schema.md. */
export interface ProbeReport {
  readonly schema: typeof PROBE_REPORT_SCHEMA;
  readonly sysroot: string;
  readonly live: boolean;
  readonly arch: ArchName;
  readonly cpu: { readonly vendor: string | null; readonly model: string | null };
  readonly virtualization: { readonly role: VirtualizationRole; readonly hypervisor: HypervisorName | null; readonly notes: readonly string[] };
  readonly kernelClocksource: { readonly current: string | null; readonly available: readonly string[] };
  readonly x86: null | {
    readonly vendor: string | null;
    readonly invariantTsc: boolean | null;
    readonly tscFrequencyHz: number | null;
    readonly tscFrequencySource: string | null;
    readonly tscUnstable: boolean | null;
    /** KVM host facts; null when nothing says this machine runs or could run KVM. */
    readonly kvm: null | {
      /** Vendor modules present (`kvm_intel`, `kvm_amd`, `kvm_pvm`); null when not told. */
      readonly implementation: readonly string[] | null;
      /** Hardware offsets a guest's TSC. */
      readonly tscOffsetting: boolean | null;
      /** KVM can scale a guest's TSC in hardware. */
      readonly tscScaling: boolean | null;
      /** The running VMs and their vCPUs' TSC parameters (live only); null when not read. */
      readonly vms: readonly FactValue[] | null;
    };
  };
  readonly arm: null | {
    readonly genericTimer: boolean | null;
    readonly timerFrequencyHz: number | null;
    readonly timerFrequencySource: string | null;
    readonly counterWidthBits: number | null;
    readonly errata: readonly FactValue[];
  };
  readonly facts: readonly Fact[];
  readonly conflicts: readonly { readonly name: string; readonly chosen: Fact; readonly overruled: readonly Fact[] }[];
  readonly backends: readonly { readonly id: string; readonly usable: boolean; readonly eligible: boolean; readonly rating: number; readonly mapping: string; readonly reasons: readonly string[] }[];
  readonly selected: string | null;
  readonly explanation: readonly string[];
}

const str = (v: FactValue | undefined): string | null => (typeof v === "string" ? v : null);
const num = (v: FactValue | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const bool = (v: FactValue | undefined): boolean | null => (typeof v === "boolean" ? v : null);

function sectionFacts(facts: FactSet, prefix: string): boolean {
  return facts.all().some((f) => f.name.startsWith(prefix));
}

const KVM_FACTS = [FACT.x86KvmImplementation, FACT.x86KvmTscOffsetting, FACT.x86KvmTscScaling, FACT.x86KvmVmTsc];

function kvmSection(facts: FactSet): NonNullable<ProbeReport["x86"]>["kvm"] {
  if (!facts.all().some((f) => (KVM_FACTS as string[]).includes(f.name))) return null;
  const impl = facts.value(FACT.x86KvmImplementation);
  const vms = facts.value(FACT.x86KvmVmTsc);
  return {
    implementation: Array.isArray(impl) ? impl.filter((x): x is string => typeof x === "string") : null,
    tscOffsetting: bool(facts.value(FACT.x86KvmTscOffsetting)),
    tscScaling: bool(facts.value(FACT.x86KvmTscScaling)),
    vms: Array.isArray(vms) ? vms : null,
  };
}

/** Builds the probe report from the facts and the ranking. Pure. */
export function buildProbeReport(ranking: Ranking, view: { root: string; live: boolean }): ProbeReport {
  const facts = ranking.facts;
  // The report's arch is the OS's: a heuristic guess (a CPUID dump's long-mode
  // bit says what the CPU can run, not what the kernel is) stays in the facts only.
  const archFact = facts.best(FACT.arch);
  const archValue = archFact && archFact.confidence !== "heuristic" ? archFact.value : undefined;
  const arch: ArchName = typeof archValue === "string" && (ARCHES as readonly string[]).includes(archValue) ? (archValue as ArchName) : "unknown";
  const virt = resolveVirtualization(facts);
  const available = facts.value(FACT.kernelClocksourceAvailable);
  const hasX86 = sectionFacts(facts, "x86.");
  const hasArm = sectionFacts(facts, "arm.");
  const isX86 = arch === "x86_64" || arch === "x86" || (arch === "unknown" && hasX86 && !hasArm);
  const isArm = arch === "arm64" || arch === "arm" || (arch === "unknown" && hasArm && !hasX86);
  const tscFreq = facts.best(FACT.x86TscFrequencyHz);
  const armFreq = facts.best(FACT.armTimerFrequencyHz);
  const errata = facts.value(FACT.armErrata);
  return {
    schema: PROBE_REPORT_SCHEMA,
    sysroot: view.root,
    live: view.live,
    arch,
    cpu: { vendor: str(facts.value(FACT.cpuVendor)), model: str(facts.value(FACT.cpuModel)) },
    virtualization: { role: virt.role, hypervisor: virt.hypervisor, notes: virt.notes },
    kernelClocksource: {
      current: str(facts.value(FACT.kernelClocksourceCurrent)),
      available: Array.isArray(available) ? available.filter((x): x is string => typeof x === "string") : [],
    },
    x86: isX86 && hasX86
      ? {
          vendor: str(facts.value(FACT.x86Vendor)),
          invariantTsc: bool(facts.value(FACT.x86InvariantTsc)),
          tscFrequencyHz: num(tscFreq?.value),
          tscFrequencySource: tscFreq ? `${tscFreq.source} (${tscFreq.confidence})` : null,
          tscUnstable: bool(facts.value(FACT.x86TscUnstable)),
          kvm: kvmSection(facts),
        }
      : null,
    arm: isArm && hasArm
      ? {
          genericTimer: bool(facts.value(FACT.armGenericTimer)),
          timerFrequencyHz: num(armFreq?.value),
          timerFrequencySource: armFreq ? `${armFreq.source} (${armFreq.confidence})` : null,
          counterWidthBits: num(facts.value(FACT.armCounterWidthBits)),
          errata: Array.isArray(errata) ? errata : [],
        }
      : null,
    facts: facts.all(),
    conflicts: facts.conflicts(),
    backends: ranking.backends.map((b) => ({ id: b.id, usable: b.usable, eligible: b.eligible, rating: b.rating, mapping: b.mapping, reasons: b.reasons })),
    selected: ranking.selected?.id ?? null,
    explanation: ranking.explanation,
  };
}
