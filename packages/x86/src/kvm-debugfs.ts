/**
 * Reading a VM's per-vCPU TSC parameters from KVM's debugfs on the host:
 * `<debugfs>/kvm/<pid>-<fd>/vcpu<N>/tsc-offset` (`%lld`) and, where the CPU
 * supports TSC scaling, `tsc-scaling-ratio` (`%llu`) and
 * `tsc-scaling-ratio-frac-bits` (`%llu`). The VM directory is named after the
 * VMM's pid and the VM file descriptor (`kvm_create_vm_debugfs`), so one
 * process running several VMs has several directories: `<pid>-<fd>` names one.
 *
 * Every value is read with core's `readUserFile`: regular files only (a FIFO
 * or device put in a copied tree is refused, never waited on), at most
 * {@link KVM_DEBUGFS_VALUE_MAX_BYTES} — a longer value is an error, not a cut
 * that could read as another number.
 */
import { readdirSync } from "node:fs";
import { ClocksourceError, describeErrno, isClocksourceError, readUserFile } from "@clocksource/core";
import { KVM_TSC_FRAC_BITS, type KvmTscParams } from "./kvm-tsc-mapping.js";

/** One VM's TSC parameters, per vCPU index. */
export interface KvmVmTsc {
  /** `<pid>-<fd>`. */
  readonly vm: string;
  readonly vcpus: ReadonlyMap<number, KvmTscParams>;
  /** vCPUs whose scaling files were absent (no TSC scaling: unscaled). */
  readonly unscaledByAbsence: readonly number[];
}

/** The longest debugfs value read: `%lld` needs 20 characters and a newline; anything longer is not KVM's. */
export const KVM_DEBUGFS_VALUE_MAX_BYTES = 64;

/** The largest vCPU index a mapping file can name (its `vcpus` keys are 0..999999). */
export const KVM_MAX_VCPU_INDEX = 999_999;

const VM_NAME = /^[1-9][0-9]{0,9}-[0-9]{1,10}$/;

function fail(message: string): ClocksourceError {
  return new ClocksourceError("IO_ERROR", message);
}

function malformed(path: string, why: string): ClocksourceError {
  return new ClocksourceError("INVALID_INPUT", `${path}: malformed value: ${why}`);
}

function list(dir: string, hint = ""): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(`${dir}: ${describeErrno(e)}${code === "ENOENT" || code === "ENOTDIR" ? hint : ""}`);
  }
}

/** Reads one value file; `null` when it does not exist. */
function readValue(path: string): string | null {
  let bytes: Buffer;
  try {
    bytes = readUserFile(path, { maxBytes: KVM_DEBUGFS_VALUE_MAX_BYTES, what: "KVM debugfs value" });
  } catch (e) {
    if (isClocksourceError(e, "IO_ERROR") && ((e.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT")) return null;
    throw e;
  }
  return bytes.toString("latin1");
}

/** The kernel's `%lld\n` or `%llu\n`: an optional `-` (signed only), digits without leading zeros, one newline. */
function integer(path: string, text: string, signed: boolean): bigint {
  const re = signed ? /^(0|-?[1-9][0-9]*)\n?$/ : /^(0|[1-9][0-9]*)\n?$/;
  if (!re.test(text)) {
    const shown = JSON.stringify(text.length > 30 ? `${text.slice(0, 30)}…` : text);
    throw malformed(path, `expected ${signed ? "a signed" : "an unsigned"} decimal integer as the kernel prints it, got ${shown}`);
  }
  const v = BigInt(text.trim());
  if (signed ? v < -(1n << 63n) || v >= 1n << 63n : v >= 1n << 64n) throw malformed(path, `${v} is out of the ${signed ? "signed " : ""}64-bit range`);
  return v;
}

function required(path: string): string {
  const t = readValue(path);
  if (t === null) throw fail(`${path}: not present`);
  return t;
}

/**
 * The VMs under `<debugfs>/kvm` (`<pid>-<fd>` names), sorted.
 * @throws ClocksourceError `IO_ERROR`: debugfs or KVM missing, permission denied
 */
export function listKvmVms(debugfs: string): string[] {
  return list(`${debugfs}/kvm`, " (is debugfs mounted there, and the kvm module loaded?)").filter((n) => VM_NAME.test(n));
}

/**
 * Finds the VM of process `pid` under `<debugfs>/kvm`; with `vm` (`<pid>-<fd>`),
 * that VM, which must belong to `pid` when both are given.
 * @throws ClocksourceError `IO_ERROR`: debugfs or KVM missing, permission denied, no such VM,
 *   or several VMs for the pid and none chosen (the message lists them)
 */
export function findKvmVm(debugfs: string, pid: number | null, vm?: string): string {
  if (vm !== undefined && pid !== null && !vm.startsWith(`${pid}-`)) {
    throw new ClocksourceError("INVALID_ARGUMENT", `VM ${vm} is not one of process ${pid} (a VM is named <pid>-<fd>)`);
  }
  const all = listKvmVms(debugfs);
  const there = `(VMs there: ${all.join(", ") || "none"})`;
  if (vm !== undefined) {
    if (!all.includes(vm)) throw fail(`no KVM VM ${vm} under ${debugfs}/kvm ${there}`);
    return vm;
  }
  if (pid === null) throw new ClocksourceError("INVALID_ARGUMENT", "name the VM: a process id, or <pid>-<fd>");
  const mine = all.filter((n) => n.startsWith(`${pid}-`));
  if (mine.length === 0) throw fail(`no KVM VM of process ${pid} under ${debugfs}/kvm ${there}`);
  if (mine.length > 1) throw fail(`process ${pid} runs several KVM VMs under ${debugfs}/kvm: ${mine.join(", ")} (choose one with --vm PID-FD)`);
  return mine[0] as string;
}

/** The vCPU indices of a VM directory's entries; an entry that looks like `vcpu<N>` but is not one KVM makes is an error naming it. */
function vcpuIndices(dir: string, entries: readonly string[]): number[] {
  const ids: number[] = [];
  for (const name of entries) {
    if (!name.startsWith("vcpu")) continue;
    const digits = name.slice(4);
    if (!/^[0-9]+$/.test(digits)) continue; // other KVM entries (none today) or foreign files
    if (!/^(0|[1-9][0-9]{0,5})$/.test(digits) || Number(digits) > KVM_MAX_VCPU_INDEX) {
      throw malformed(`${dir}/${name}`, `not a vCPU index this tool can record (0..${KVM_MAX_VCPU_INDEX}): ${JSON.stringify(name)}`);
    }
    ids.push(Number(digits));
  }
  return ids.sort((a, b) => a - b);
}

/**
 * Reads every vCPU's TSC parameters of VM `vm` (`<pid>-<fd>`). Absent scaling
 * files mean no TSC scaling (the ratio is the identity). Values are parsed
 * strictly as the kernel prints them: `tsc-offset` a signed 64-bit decimal,
 * the ratio a u64 above 0, the frac bits 0..63.
 * @throws ClocksourceError `IO_ERROR` (missing, unreadable, not a regular file, over
 *   {@link KVM_DEBUGFS_VALUE_MAX_BYTES}, vanished) or `INVALID_INPUT` (malformed value or vCPU name)
 */
export function readKvmVmTsc(debugfs: string, vm: string): KvmVmTsc {
  const dir = `${debugfs}/kvm/${vm}`;
  const ids = vcpuIndices(dir, list(dir));
  if (ids.length === 0) throw fail(`${dir}: no vcpu<N> directories`);
  const vcpus = new Map<number, KvmTscParams>();
  const unscaled: number[] = [];
  for (const id of ids) {
    const base = `${dir}/vcpu${id}`;
    const offset = integer(`${base}/tsc-offset`, required(`${base}/tsc-offset`), true);
    const ratioText = readValue(`${base}/tsc-scaling-ratio`);
    const fracText = readValue(`${base}/tsc-scaling-ratio-frac-bits`);
    if (ratioText === null && fracText === null) {
      unscaled.push(id);
      vcpus.set(id, { offset, ratio: 1n << BigInt(KVM_TSC_FRAC_BITS.vmx), fracBits: KVM_TSC_FRAC_BITS.vmx });
      continue;
    }
    if (ratioText === null) throw fail(`${base}/tsc-scaling-ratio: not present`);
    if (fracText === null) throw fail(`${base}/tsc-scaling-ratio-frac-bits: not present`);
    const ratio = integer(`${base}/tsc-scaling-ratio`, ratioText, false);
    if (ratio === 0n) throw malformed(`${base}/tsc-scaling-ratio`, "the ratio is 0");
    const frac = integer(`${base}/tsc-scaling-ratio-frac-bits`, fracText, false);
    if (frac > 63n) throw malformed(`${base}/tsc-scaling-ratio-frac-bits`, `${frac} is above 63`);
    vcpus.set(id, { offset, ratio, fracBits: Number(frac) });
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
