import { FACT, type FactSet, type FactValue, type ProbeReport } from "@clocksource/core";

type KvmSection = NonNullable<NonNullable<ProbeReport["x86"]>["kvm"]>;
type Row = (label: string, value: string) => string;

/** A VM's vCPUs are listed one line per run of equal parameters; a host with many VMs stays readable. */
const MAX_VM_LINES = 64;

function field(v: FactValue | undefined, key: string): FactValue | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, FactValue>)[key] : undefined;
}

/** The value of a fact, then why: `no — PVM runs guests…`. */
function withReason(value: string, facts: FactSet, name: string): string {
  const f = facts.best(name);
  if (f) return f.reason ? `${value} — ${f.reason}` : value;
  const unknown = facts.unknownReasons(name);
  return unknown.length > 0 ? `${value} (${unknown.join("; ")})` : value;
}

function tri(v: boolean | null): string {
  return v === null ? "unknown" : v ? "yes" : "no";
}

function vcpuParams(c: FactValue): string {
  const ratio = field(c, "tscScalingRatio");
  const frac = field(c, "fracBits");
  const scale = typeof ratio === "string" && typeof frac === "number" ? (BigInt(ratio) === 1n << BigInt(frac) ? `ratio 2^${frac} (unscaled)` : `ratio ${ratio} / 2^${frac}`) : "no scaling files (unscaled)";
  return `tsc-offset ${String(field(c, "tscOffset"))}, ${scale}`;
}

function vmLines(vm: FactValue): string {
  const comm = field(vm, "comm");
  const vcpus = field(vm, "vcpus");
  const error = field(vm, "error");
  const list = Array.isArray(vcpus) ? vcpus : [];
  let out = `    ${String(field(vm, "vm"))}${typeof comm === "string" ? ` ${comm}` : ""} (pid ${String(field(vm, "pid"))}, fd ${String(field(vm, "fd"))}): `;
  if (typeof error === "string") return `${out}not read: ${error}\n`;
  out += `${list.length} vCPU${list.length === 1 ? "" : "s"}\n`;
  // Runs of vCPUs with the same parameters (the usual case) take one line.
  let i = 0;
  while (i < list.length) {
    const params = vcpuParams(list[i] as FactValue);
    let j = i;
    while (j + 1 < list.length && vcpuParams(list[j + 1] as FactValue) === params) j++;
    const a = field(list[i] as FactValue, "vcpu");
    const b = field(list[j] as FactValue, "vcpu");
    out += `      vcpu${i === j ? String(a) : `${String(a)}-${String(b)}`}  ${params}\n`;
    i = j + 1;
  }
  return out;
}

/** The KVM host lines of `clocksource probe`'s summary. */
export function renderKvmHost(kvm: KvmSection, facts: FactSet, row: Row, live: boolean): string {
  const impl = kvm.implementation === null ? "unknown" : kvm.implementation.length === 0 ? "none" : kvm.implementation.join(", ");
  // The implementation fact's reason names each module and what it is.
  let out = row("KVM implementation", kvm.implementation?.length ? (facts.best(FACT.x86KvmImplementation)?.reason ?? impl) : withReason(impl, facts, FACT.x86KvmImplementation));
  out += row("TSC offsetting (hw)", withReason(tri(kvm.tscOffsetting), facts, FACT.x86KvmTscOffsetting));
  out += row("TSC scaling (hw)", withReason(tri(kvm.tscScaling), facts, FACT.x86KvmTscScaling));
  if (kvm.vms === null) {
    const why = facts.unknownReasons(FACT.x86KvmVmTsc);
    out += row("KVM VMs", why.length > 0 ? `unknown (${why.join("; ")})` : live ? "not read" : "not in a snapshot (read on the live host only)");
    return out;
  }
  out += row("KVM VMs", kvm.vms.length === 0 ? withReason("none", facts, FACT.x86KvmVmTsc) : String(kvm.vms.length));
  for (const vm of kvm.vms.slice(0, MAX_VM_LINES)) out += vmLines(vm);
  if (kvm.vms.length > MAX_VM_LINES) out += `    … and ${kvm.vms.length - MAX_VM_LINES} more (see --json)\n`;
  return out;
}
