/**
 * Reading a VM's per-vCPU TSC parameters from KVM's debugfs on the host:
 * `<debugfs>/kvm/<pid>-<fd>/vcpu<N>/tsc-offset` (`%lld`) and, where the CPU
 * supports TSC scaling, `tsc-scaling-ratio` (`%llu`) and
 * `tsc-scaling-ratio-frac-bits` (`%llu`). The VM directory is named after the
 * VMM's pid and the VM file descriptor (`kvm_create_vm_debugfs`).
 */
import { ClocksourceError, DirectorySystemView, parseI64, parseU64, type ReadOutcome } from "@clocksource/core";
import { KVM_TSC_FRAC_BITS, type KvmTscParams } from "./kvm-tsc-mapping.js";

/** One VM's TSC parameters, per vCPU index. */
export interface KvmVmTsc {
  /** `<pid>-<fd>`. */
  readonly vm: string;
  readonly vcpus: ReadonlyMap<number, KvmTscParams>;
  /** vCPUs whose scaling files were absent (no TSC scaling: unscaled). */
  readonly unscaledByAbsence: readonly number[];
}

/** The kernel prints `%llu`: digits only (no `0x`), one trailing newline. */
function decimal(text: string): string {
  if (!/^[0-9]+\n?$/.test(text)) throw new Error(`expected a decimal integer, got ${JSON.stringify(text.slice(0, 30))}`);
  return text;
}

function fail(message: string): ClocksourceError {
  return new ClocksourceError("IO_ERROR", message);
}

function must<T>(r: ReadOutcome<T>, what: string): T {
  if (r.ok) return r.value;
  throw fail(`${what}: ${r.reason}`);
}

/**
 * Finds the VM of process `pid` under `<debugfs>/kvm`.
 * @throws ClocksourceError `IO_ERROR`: debugfs or KVM missing, permission denied, no or several VMs for the pid
 */
export function findKvmVm(debugfs: string, pid: number): string {
  const view = new DirectorySystemView(debugfs, true);
  const kvm = view.list("kvm");
  if (!kvm.ok) {
    const hint = kvm.missing ? " (is debugfs mounted there, and the kvm module loaded?)" : "";
    throw fail(`${debugfs}/kvm: ${kvm.reason}${hint}`);
  }
  const vms = kvm.value.filter((n) => n.startsWith(`${pid}-`) && /^\d+-\d+$/.test(n));
  if (vms.length === 0) throw fail(`no KVM VM of process ${pid} under ${debugfs}/kvm (VMs there: ${kvm.value.filter((n) => /^\d+-\d+$/.test(n)).join(", ") || "none"})`);
  if (vms.length > 1) throw fail(`process ${pid} has several KVM VMs under ${debugfs}/kvm: ${vms.join(", ")}`);
  return vms[0] as string;
}

/**
 * Reads every vCPU's TSC parameters of VM `vm` (`<pid>-<fd>`). Absent scaling
 * files mean no TSC scaling (the ratio is the identity). Values are parsed
 * strictly: `tsc-offset` as a signed 64-bit decimal, the ratio as a u64,
 * the frac bits as 0..63.
 * @throws ClocksourceError `IO_ERROR` (missing, unreadable, vanished) or `INVALID_MAPPING` (malformed value)
 */
export function readKvmVmTsc(debugfs: string, vm: string): KvmVmTsc {
  const view = new DirectorySystemView(debugfs, true);
  const dir = `kvm/${vm}`;
  const entries = must(view.list(dir), `${debugfs}/${dir}`);
  const vcpuIds = entries.filter((n) => /^vcpu\d+$/.test(n)).map((n) => Number(n.slice(4))).sort((a, b) => a - b);
  if (vcpuIds.length === 0) throw fail(`${debugfs}/${dir}: no vcpu<N> directories`);
  const vcpus = new Map<number, KvmTscParams>();
  const unscaled: number[] = [];
  for (const id of vcpuIds) {
    const base = `${dir}/vcpu${id}`;
    const text = (name: string) => view.readText(`${base}/${name}`, { maxBytes: 64 });
    const malformed = (name: string, e: unknown) =>
      new ClocksourceError("INVALID_MAPPING", `${debugfs}/${base}/${name}: malformed value: ${(e as Error).message}`);
    const off = text("tsc-offset");
    let offset: bigint;
    try {
      offset = parseI64(must(off, `${debugfs}/${base}/tsc-offset`), "tsc-offset");
    } catch (e) {
      if (e instanceof ClocksourceError && e.code === "IO_ERROR") throw e;
      throw malformed("tsc-offset", e);
    }
    const ratioText = text("tsc-scaling-ratio");
    const fracText = text("tsc-scaling-ratio-frac-bits");
    if (!ratioText.ok && ratioText.missing && !fracText.ok && fracText.missing) {
      unscaled.push(id);
      vcpus.set(id, { offset, ratio: 1n << BigInt(KVM_TSC_FRAC_BITS.vmx), fracBits: KVM_TSC_FRAC_BITS.vmx });
      continue;
    }
    let ratio: bigint;
    let fracBits: number;
    try {
      ratio = parseU64(decimal(must(ratioText, `${debugfs}/${base}/tsc-scaling-ratio`)), "tsc-scaling-ratio");
      if (ratio === 0n) throw new Error("the ratio is 0");
    } catch (e) {
      if (e instanceof ClocksourceError && e.code === "IO_ERROR") throw e;
      throw malformed("tsc-scaling-ratio", e);
    }
    try {
      const f = parseU64(decimal(must(fracText, `${debugfs}/${base}/tsc-scaling-ratio-frac-bits`)), "tsc-scaling-ratio-frac-bits");
      if (f > 63n) throw new Error(`${f} is above 63`);
      fracBits = Number(f);
    } catch (e) {
      if (e instanceof ClocksourceError && e.code === "IO_ERROR") throw e;
      throw malformed("tsc-scaling-ratio-frac-bits", e);
    }
    vcpus.set(id, { offset, ratio, fracBits });
  }
  return { vm, vcpus, unscaledByAbsence: unscaled };
}

/** True when two readings hold the same vCPUs with the same parameters. */
export function sameVmTsc(a: ReadonlyMap<number, KvmTscParams>, b: ReadonlyMap<number, KvmTscParams>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, p] of a) {
    const q = b.get(id);
    if (!q || q.offset !== p.offset || q.ratio !== p.ratio || q.fracBits !== p.fracBits) return false;
  }
  return true;
}
