/**
 * The fact names that the report, the selector and the backends agree on.
 * A probe may emit other names too; these carry the probe report's fields.
 */
export const FACT = {
  /** `x86_64` | `x86` | `arm64` | `arm` — the OS architecture. */
  arch: "arch",
  /** CPU vendor string (`GenuineIntel`, `AuthenticAMD`, or Arm implementer name). */
  cpuVendor: "cpu.vendor",
  /** CPU model name / brand. */
  cpuModel: "cpu.model",
  kernelClocksourceCurrent: "kernel.clocksource.current",
  kernelClocksourceAvailable: "kernel.clocksource.available",
  /** A hypervisor name from the {@link HYPERVISORS} list. Several sources may report it. */
  hypervisor: "virt.hypervisor",
  /** Whether a hypervisor is present at all (e.g. the CPUID hypervisor bit). */
  hypervisorPresent: "virt.hypervisor_present",
  /** An explicit role when a source states it (`host` for Xen dom0). */
  role: "virt.role",
  /** Evidence that this machine is a KVM host (`/dev/kvm`, KVM debugfs). */
  kvmHost: "virt.kvm_host",
  /** The VMs KVM's debugfs lists (`sys/kernel/debug/kvm/<pid>-<fd>`): live only. */
  kvmVms: "virt.kvm_vms",
  /** `true`, one per input the system view read only in part (source: the input; reason: the cap). */
  inputTruncated: "input.truncated",
  // x86 report section (filled by @clocksource/x86)
  x86Vendor: "x86.vendor",
  x86InvariantTsc: "x86.invariant_tsc",
  x86TscFrequencyHz: "x86.tsc_frequency_hz",
  x86TscUnstable: "x86.tsc_unstable",
  /** The x86 KVM vendor modules present (`kvm_intel`, `kvm_amd`, `kvm_pvm`): loaded or built in. */
  x86KvmImplementation: "x86.kvm_implementation",
  /** Whether the CPU offsets a guest's TSC in hardware (VMX `tsc_offset`, SVM). */
  x86KvmTscOffsetting: "x86.kvm_tsc_offsetting",
  /** Whether KVM here can scale a guest's TSC in hardware (VMX `tsc_scaling`, SVM `tsc_scale`). */
  x86KvmTscScaling: "x86.kvm_tsc_scaling",
  /** The running VMs with each vCPU's TSC offset and scaling (KVM debugfs): live only. */
  x86KvmVmTsc: "x86.kvm_vm_tsc",
  // arm report section (filled by @clocksource/arm)
  armGenericTimer: "arm.generic_timer",
  armTimerFrequencyHz: "arm.timer_frequency_hz",
  armCounterWidthBits: "arm.counter_width_bits",
  armErrata: "arm.errata",
} as const;

/** Hypervisor names of the probe report (`virtualization.hypervisor`). */
export const HYPERVISORS = ["kvm", "hyperv", "vmware", "xen", "bhyve", "qemu", "virtualbox", "acrn", "other"] as const;
export type HypervisorName = (typeof HYPERVISORS)[number];

/** Architectures of the probe report. */
export const ARCHES = ["x86_64", "x86", "arm64", "arm", "unknown"] as const;
export type ArchName = (typeof ARCHES)[number];
