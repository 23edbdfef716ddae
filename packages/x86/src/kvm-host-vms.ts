/**
 * The running KVM VMs and their vCPUs' TSC parameters, from the live host's
 * debugfs (`sys/kernel/debug/kvm/<pid>-<fd>/vcpuN/tsc-*`), read with
 * {@link readKvmVmTsc} — the same strict reader `clocksource kvm-mapping` uses.
 * These values exist only while the VMs run: a snapshot carries none, so from
 * a snapshot this says "live only" instead of guessing.
 */
import { join } from "node:path";
import { describeErrno, fact, FACT, unknownFact, type Fact, type FactValue, type SystemView } from "@clocksource/core";
import { listKvmVms, readKvmVmTsc } from "./kvm-debugfs.js";

/** VMs read per probe; a host running more is cut here and the cut reported (`input.truncated`). */
export const KVM_PROBE_MAX_VMS = 256;
/** vCPUs read per probe over all VMs: a bound on the report's size. */
export const KVM_PROBE_MAX_VCPUS = 16_384;

const DEBUGFS = "sys/kernel/debug";
const KVM_DIR = `${DEBUGFS}/kvm`;

/** What the rest of the probe knows when the VMs are looked for. */
export interface KvmVmContext {
  /** Some KVM module is present (`sys/module/kvm*`). */
  readonly kvmModules: boolean;
}

/** One vCPU in the `x86.kvm_vm_tsc` value: decimal strings for u64/s64, null scaling when the files are absent. */
export interface KvmVcpuTscEntry {
  readonly vcpu: number;
  readonly tscOffset: string;
  readonly tscScalingRatio: string | null;
  readonly fracBits: number | null;
}

/** One VM in the `x86.kvm_vm_tsc` value. */
export interface KvmVmEntry {
  /** `<pid>-<fd>`, the debugfs directory. */
  readonly vm: string;
  readonly pid: number;
  readonly fd: number;
  /** The VMM's command name (`/proc/<pid>/comm`), when readable. */
  readonly comm: string | null;
  /** Its vCPUs, by index; empty when it could not be read (then `error` says why). */
  readonly vcpus: readonly KvmVcpuTscEntry[];
  readonly error?: string;
}

/**
 * `x86.kvm_vm_tsc` and, where debugfs shows them, the scaling files as
 * evidence for `x86.kvm_tsc_scaling` (KVM creates them only when it can scale).
 * Nothing when nothing says this is a KVM host. Never throws.
 */
export function kvmVmFacts(view: SystemView, ctx: KvmVmContext): Fact[] {
  const kvmDir = view.kind(KVM_DIR);
  if (!view.live) {
    if (!kvmDir.ok) return [];
    return [unknownFact(FACT.x86KvmVmTsc, kvmDir.source, "KVM's debugfs values are read on the live host only: a snapshot does not carry them")];
  }
  if (!kvmDir.ok) {
    // Without a KVM module or /dev/kvm this is no KVM host: an unreadable debugfs says nothing then.
    if (!ctx.kvmModules && !view.kind("dev/kvm").ok) return [];
    return kvmDir.missing ? absentKvmDir(view, kvmDir.source) : [unknownFact(FACT.x86KvmVmTsc, kvmDir.source, kvmDir.reason)];
  }
  if (kvmDir.value !== "directory") return [unknownFact(FACT.x86KvmVmTsc, kvmDir.source, `is a ${kvmDir.value}, not KVM's debugfs directory`)];
  return readVms(view, kvmDir.source);
}

/** No `kvm` in debugfs: no KVM, KVM that did not register, or debugfs not mounted. */
function absentKvmDir(view: SystemView, source: string): Fact[] {
  const dev = view.kind("dev/kvm");
  if (!dev.ok && dev.missing) {
    return [fact(FACT.x86KvmVmTsc, [], `${dev.source} (absent)`, "derived", "KVM modules are there but /dev/kvm is not: KVM did not register, so no VM can run")];
  }
  if (!dev.ok) return [unknownFact(FACT.x86KvmVmTsc, dev.source, dev.reason)];
  // Listed whole (a few dozen entries): a capped listing would be reported as a cut input.
  const debugfs = view.list(DEBUGFS);
  if (!debugfs.ok) return [unknownFact(FACT.x86KvmVmTsc, debugfs.source, debugfs.reason)];
  if (debugfs.value.length === 0) {
    return [unknownFact(FACT.x86KvmVmTsc, debugfs.source, `debugfs is not mounted there (mount -t debugfs none /${DEBUGFS}): the VMs' TSC offsets cannot be read`)];
  }
  return [unknownFact(FACT.x86KvmVmTsc, source, "debugfs is mounted but has no kvm directory although /dev/kvm exists (a kernel without KVM debugfs?)")];
}

function readVms(view: SystemView, source: string): Fact[] {
  const debugfs = join(view.root, DEBUGFS);
  let names: string[];
  try {
    names = listKvmVms(debugfs);
  } catch (e) {
    return [unknownFact(FACT.x86KvmVmTsc, source, (e as Error).message ?? describeErrno(e))];
  }
  const out: Fact[] = [];
  const vms: KvmVmEntry[] = [];
  let vcpusRead = 0;
  let scaled: { value: boolean; where: string } | null = null;
  for (const [i, name] of names.entries()) {
    if (i >= KVM_PROBE_MAX_VMS || vcpusRead >= KVM_PROBE_MAX_VCPUS) {
      out.push(fact(FACT.inputTruncated, true, source, "definitive", `read ${i} of ${names.length} VMs (caps: ${KVM_PROBE_MAX_VMS} VMs, ${KVM_PROBE_MAX_VCPUS} vCPUs): the others are not listed`));
      break;
    }
    const [pid, fd] = name.split("-").map(Number) as [number, number];
    const comm = vmmName(view, pid);
    try {
      const t = readKvmVmTsc(debugfs, name);
      const unscaled = new Set(t.unscaledByAbsence);
      const vcpus: KvmVcpuTscEntry[] = [...t.vcpus].map(([vcpu, p]) => ({
        vcpu,
        tscOffset: p.offset.toString(),
        tscScalingRatio: unscaled.has(vcpu) ? null : p.ratio.toString(),
        fracBits: unscaled.has(vcpu) ? null : p.fracBits,
      }));
      vcpusRead += vcpus.length;
      vms.push({ vm: name, pid, fd, comm, vcpus });
      const first = vcpus[0];
      if (scaled === null && first) scaled = { value: first.tscScalingRatio !== null, where: `${view.describe(KVM_DIR)}/${name}/vcpu${first.vcpu}` };
    } catch (e) {
      // A VM that exits between the listing and the read is the usual cause.
      vms.push({ vm: name, pid, fd, comm, vcpus: [], error: (e as Error).message });
    }
  }
  const read = vms.filter((v) => v.error === undefined);
  const summary = vms.length === 0 ? "no VM is running" : `${read.length} VM(s) read, ${vcpusRead} vCPU(s)${read.length < vms.length ? `; ${vms.length - read.length} could not be read` : ""}`;
  out.unshift(fact(FACT.x86KvmVmTsc, vms.map(vmValue), source, "definitive", summary));
  if (scaled) {
    out.push(
      scaled.value
        ? fact(FACT.x86KvmTscScaling, true, `${scaled.where}/tsc-scaling-ratio`, "derived", "KVM creates the scaling files only when it can scale guests' TSCs")
        : fact(FACT.x86KvmTscScaling, false, `${scaled.where} (no tsc-scaling-ratio)`, "derived", "KVM creates the scaling files only when it can scale guests' TSCs: here it cannot"),
    );
  }
  return out;
}

function vmValue(v: KvmVmEntry): FactValue {
  const vcpus: FactValue[] = v.vcpus.map((c) => ({ vcpu: c.vcpu, tscOffset: c.tscOffset, tscScalingRatio: c.tscScalingRatio, fracBits: c.fracBits }));
  const base = { vm: v.vm, pid: v.pid, fd: v.fd, comm: v.comm, vcpus };
  return v.error === undefined ? base : { ...base, error: v.error };
}

/** The VMM's command name, for people; null when the process is gone or hidden. */
function vmmName(view: SystemView, pid: number): string | null {
  const r = view.readText(`proc/${pid}/comm`, { maxBytes: 64 });
  if (!r.ok) return null;
  const name = r.value.replace(/\n$/, "");
  return /^[\x20-\x7e]{1,16}$/.test(name) ? name : null;
}
