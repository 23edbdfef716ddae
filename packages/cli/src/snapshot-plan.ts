import { FACT } from "@clocksource/core";
import { ARM_FACT } from "@clocksource/arm";
import { PARAVIRT_FACT } from "@clocksource/paravirt";
import { KVM_MODULES, X86_FACT } from "@clocksource/x86";

/**
 * What `clocksource snapshot` copies: exactly the probe inputs, nothing else.
 * Paths are relative to the root; a trailing `/**` copies a tree, `*` matches
 * one path segment. Identifiers that could be secrets (DMI serial numbers,
 * UUIDs, board asset tags) are deliberately absent.
 */
export const SNAPSHOT_FILES: readonly string[] = [
  "proc/cpuinfo",
  "proc/xen/capabilities",
  "sys/devices/system/clocksource/clocksource0/current_clocksource",
  "sys/devices/system/clocksource/clocksource0/available_clocksource",
  "sys/hypervisor/type",
  "sys/hypervisor/version/major",
  "sys/hypervisor/version/minor",
  "sys/hypervisor/version/extra",
  "sys/class/dmi/id/sys_vendor",
  "sys/class/dmi/id/product_name",
  "sys/class/dmi/id/bios_vendor",
  "sys/class/dmi/id/bios_version",
  "sys/class/ptp/*/clock_name",
  "sys/class/virtio-ports/*/name",
  "sys/devices/system/cpu/cpu*/regs/identification/midr_el1",
  "sys/devices/soc0/family",
  "sys/devices/soc0/machine",
  "sys/devices/soc0/soc_id",
  "sys/firmware/acpi/tables/GTDT",
  "sys/firmware/devicetree/base/**",
  // Which KVM (x86): the modules' parameters, and initstate (absent when built in).
  ...KVM_MODULES.flatMap((m) => [`sys/module/${m}/initstate`, `sys/module/${m}/parameters/*`]),
];

/** Device-tree trees are small; a larger one is cut off here and the cut is reported. */
export const SNAPSHOT_TREE_MAX_FILES = 20_000;
/** A file of {@link SNAPSHOT_FILES} is cut here (a 1024-CPU cpuinfo is about 1.5 MiB); the cut is reported. */
export const SNAPSHOT_FILE_MAX_BYTES = 4 * 1024 * 1024;
/**
 * A file in a `/**` tree (a device-tree property) larger than this is not copied:
 * a cut property would read as a different value, and the Arm reader refuses larger ones.
 */
export const SNAPSHOT_TREE_FILE_MAX_BYTES = 64 * 1024;
/** All the bytes of one snapshot; what would pass it is skipped and reported. */
export const SNAPSHOT_TOTAL_MAX_BYTES = 64 * 1024 * 1024;
/** The kernel log is copied up to the system view's cap, as the probe reads it. */
export const SNAPSHOT_LOG_MAX_BYTES = 16 * 1024 * 1024;
/** A CPUID dump copied from a snapshot root (`cpuid -r` of a big machine is well under this). */
export const SNAPSHOT_CPUID_MAX_BYTES = 1024 * 1024;

/**
 * Where a symbolic link met on the way to an input may lead (inside the root)
 * for its target to be copied: sysfs class links point into `sys/devices/`
 * (`sys/class/dmi/id`, `sys/class/ptp/ptp0`), and the device tree lives in
 * `sys/firmware/devicetree/base/`. A link anywhere else — `etc/shadow`, a home
 * directory, `proc/self/environ` — is not followed for a snapshot, even inside the root.
 */
export const SNAPSHOT_LINK_TARGETS: readonly string[] = ["sys/devices/", "sys/firmware/devicetree/base/"];

/** True when an input reached through links (at `resolved`, relative to the root) may be copied. */
export function linkTargetAllowed(requested: string, resolved: string): boolean {
  const literal = requested.split("/").filter((c) => c !== "" && c !== ".").join("/");
  return resolved === literal || SNAPSHOT_LINK_TARGETS.some((p) => resolved.startsWith(p));
}

/**
 * One thing only a live probe can learn, and the facts it gives: a snapshot's
 * probe leaves them unknown or derives them otherwise. `facts` are fact names,
 * `sources` are prefixes of fact sources (a frequency measured live carries a
 * name that a snapshot learns from the kernel log too, so it is told by source).
 */
export interface LiveOnlyInput {
  /** What it is, as `clocksource snapshot` prints it. */
  readonly what: string;
  readonly facts: readonly string[];
  readonly sources: readonly string[];
}

/** Everything a snapshot cannot carry; `clocksource snapshot` prints it and writes it to SNAPSHOT.json. */
export const LIVE_ONLY_INPUTS: readonly LiveOnlyInput[] = [
  { what: "arch from uname -m (a snapshot infers it from proc/cpuinfo)", facts: [], sources: ["uname"] },
  {
    what: "the native counter reader: whether the TSC / CNTVCT can be read, CNTFRQ, the frequency calibration",
    facts: [X86_FACT.tscReadable, ARM_FACT.counterReadable],
    sources: ["@clocksource/native", "measured:", "native reader", "CNTFRQ_EL0 (native reader)"],
  },
  {
    what: "the absence of paravirtual time devices (ptp_kvm, virtio-serial ports): a snapshot shows the ones present, not that there are none",
    facts: [PARAVIRT_FACT.ptpKvm, PARAVIRT_FACT.virtioPorts],
    sources: [],
  },
  {
    what: "KVM debugfs per-VM directories (sys/kernel/debug/kvm), the contents of /dev/kvm, and its absence",
    facts: [FACT.kvmHost, FACT.kvmVms],
    sources: [],
  },
  {
    what: "the running KVM VMs' vCPU TSC offsets and scaling (sys/kernel/debug/kvm/<pid>-<fd>/vcpuN/tsc-*), and that no VM can run when /dev/kvm is absent",
    facts: [FACT.x86KvmVmTsc],
    sources: ["/sys/kernel/debug/kvm"],
  },
  { what: "reachability of a paravirtual agent", facts: [], sources: [] },
];

/** The human-readable list of {@link LIVE_ONLY_INPUTS}. */
export const LIVE_ONLY_FACTS: readonly string[] = LIVE_ONLY_INPUTS.map((i) => i.what);

/** True when a fact of a live probe is one a snapshot cannot be expected to give (see {@link LIVE_ONLY_INPUTS}). */
export function isLiveOnlyFact(f: { readonly name: string; readonly source: string }): boolean {
  return LIVE_ONLY_INPUTS.some((i) => i.facts.includes(f.name) || i.sources.some((s) => f.source.startsWith(s)));
}
