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
];

/** Device-tree trees are small; a larger one is cut off here and the cut is reported. */
export const SNAPSHOT_TREE_MAX_FILES = 20_000;
export const SNAPSHOT_FILE_MAX_BYTES = 4 * 1024 * 1024;

/** Facts that only a live probe can learn; a snapshot's probe leaves them unknown or derives them otherwise. */
export const LIVE_ONLY_FACTS: readonly string[] = [
  "arch from uname -m (a snapshot infers it from proc/cpuinfo)",
  "the native counter reader: whether the TSC / CNTVCT can be read, CNTFRQ, the frequency calibration",
  "the absence of paravirtual time devices (ptp_kvm, virtio-serial ports): a snapshot shows the ones present, not that there are none",
  "KVM debugfs per-VM directories (sys/kernel/debug/kvm) and the contents of /dev/kvm",
  "reachability of a paravirtual agent",
];
