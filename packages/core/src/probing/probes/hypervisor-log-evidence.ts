/**
 * Hypervisor evidence that only the kernel log has: the firmware's `DMI:`
 * line (a snapshot often lacks `/sys/class/dmi`), the ACPI tables' OEM ids,
 * the hypervisor's paravirtual drivers and virtual devices as they announce
 * themselves, and "TSC freq read from hypervisor". The rules follow what
 * `systemd-detect-virt` and `virt-what` look at (DMI vendor and product names,
 * hypervisor-only drivers), applied to the log a snapshot carries.
 *
 * Confidence says how strong each is:
 * - `derived`: a driver or kernel message that exists only under that
 *   hypervisor (VMBus is Hyper-V's, kvm-clock is KVM's paravirtual clock, the
 *   Xen front-end drivers need Xen).
 * - `heuristic`: strings firmware chose (DMI, ACPI OEM ids), which a bare-metal
 *   machine of the same vendor may share or a VMM may fake, and virtual devices
 *   that can also appear outside a VM.
 */
import { fact, type Fact } from "../facts.js";
import { FACT, type HypervisorName } from "../fact-names.js";
import { logLineSource, type KernelLogLine } from "../kernel-log.js";

/** A fact name for virtual devices that suggest, but do not prove, a hypervisor (virtio over PCI: DPUs offer it to bare-metal hosts too). */
export const VIRTUAL_DEVICE_FACT = "virt.virtual_device";

interface LogRule {
  readonly re: RegExp;
  /** The hypervisor it names, or null when it shows only that one is present. */
  readonly hypervisor: HypervisorName | null;
  readonly confidence: "derived" | "heuristic";
  readonly what: string;
}

/**
 * The firmware identity the kernel prints at boot, `DMI: <vendor> <product>/<board>, BIOS <version> <date>`,
 * matched like the sysfs DMI strings (vendor and product names that virtual firmware sets).
 */
const DMI_LINE_RULES: readonly LogRule[] = [
  { re: /^QEMU\b|\bStandard PC \((?:i440FX|Q35)\b/, hypervisor: "qemu", confidence: "heuristic", what: "QEMU's virtual machine firmware (KVM or TCG)" },
  { re: /^(?:Red Hat )?KVM\b|^OpenStack Foundation OpenStack Nova|\bRHEV Hypervisor\b|^oVirt\b|^KubeVirt\b/, hypervisor: "kvm", confidence: "heuristic", what: "a KVM-based platform's firmware" },
  { re: /^Microsoft Corporation Virtual Machine\b/, hypervisor: "hyperv", confidence: "heuristic", what: "Hyper-V's virtual firmware (Microsoft Corporation Virtual Machine)" },
  { re: /^VMware,? Inc\.? VMware|\bVMware Virtual Platform\b|^VMware\b/, hypervisor: "vmware", confidence: "heuristic", what: "VMware's virtual firmware" },
  { re: /^Xen\b|\bHVM domU\b|\bBIOS [\d.]+\.amazon\b/, hypervisor: "xen", confidence: "heuristic", what: "Xen's virtual firmware (HVM domU)" },
  { re: /^innotek GmbH VirtualBox\b|^Oracle Corporation VirtualBox\b/, hypervisor: "virtualbox", confidence: "heuristic", what: "VirtualBox's virtual firmware" },
  { re: /^BHYVE\b/i, hypervisor: "bhyve", confidence: "heuristic", what: "bhyve's virtual firmware" },
  { re: /^Amazon EC2 (?!\S*\.metal\b)/, hypervisor: "kvm", confidence: "heuristic", what: "an Amazon EC2 non-metal instance (Nitro is KVM-based)" },
  { re: /^Google Google Compute Engine\b/, hypervisor: "kvm", confidence: "heuristic", what: "Google Compute Engine (KVM-based)" },
  { re: /^Nutanix AHV\b/, hypervisor: "kvm", confidence: "heuristic", what: "Nutanix AHV (KVM-based)" },
  { re: /^Alibaba Cloud Alibaba Cloud ECS\b/, hypervisor: "kvm", confidence: "heuristic", what: "Alibaba Cloud ECS (KVM-based)" },
  { re: /^Parallels\b/, hypervisor: "other", confidence: "heuristic", what: "Parallels' virtual firmware" },
  { re: /^Apple Inc\. Apple Virtualization\b/, hypervisor: "other", confidence: "heuristic", what: "Apple's Virtualization framework" },
];

/** OEM ids in the kernel's `ACPI: RSDP/XSDT … (vNN OEMID …)` lines that virtual firmware uses. */
const ACPI_OEM_RULES: readonly { readonly oem: RegExp; readonly hypervisor: HypervisorName; readonly what: string }[] = [
  { oem: /^(?:BOCHS|BXPC)/, hypervisor: "qemu", what: "QEMU's ACPI tables (OEM BOCHS/BXPC)" },
  { oem: /^VRTUAL$/, hypervisor: "hyperv", what: "Hyper-V's ACPI tables (OEM VRTUAL)" },
  { oem: /^Xen$/, hypervisor: "xen", what: "Xen's ACPI tables (OEM Xen)" },
  { oem: /^VBOX/, hypervisor: "virtualbox", what: "VirtualBox's ACPI tables (OEM VBOX)" },
  { oem: /^VMWARE$/, hypervisor: "vmware", what: "VMware's ACPI tables (OEM VMWARE)" },
  { oem: /^FIRECK$/, hypervisor: "kvm", what: "Firecracker's ACPI tables (OEM FIRECK; Firecracker runs on KVM)" },
  { oem: /^CLOUDH$/, hypervisor: "kvm", what: "Cloud Hypervisor's ACPI tables (OEM CLOUDH; it runs on KVM or MSHV)" },
];

/** Paravirtual drivers and hypervisor-specific kernel messages, one per hypervisor family. */
const DRIVER_RULES: readonly LogRule[] = [
  { re: /^hv_vmbus: |^hv_(?:netvsc|storvsc|balloon|utils)\b|^Hyper-V(?: Host Build|: )/, hypervisor: "hyperv", confidence: "derived", what: "Hyper-V's guest interfaces and VMBus drivers (exist only under Hyper-V)" },
  { re: /^xen[:_](?:events|grant_table|balloon|netfront|blkfront|xen_evtchn)\b|^xenbus\b|^Xen Platform PCI:|^Xen version [\d.]+|^(?:Initialising|Initializing) Xen virtual ethernet driver|^xen_(?:netfront|blkfront): /, hypervisor: "xen", confidence: "derived", what: "Xen's front-end drivers and event channels (need a Xen hypervisor)" },
  { re: /^vmware: (?:hypercall mode|vmware-(?:vmcall|backdoor)|host bus|using clock offset)|^vmw_(?:balloon|pvscsi|vmci)\b|^VMware (?:vmxnet3 virtual NIC driver|PVSCSI driver)|^vmxnet3 \S+: /, hypervisor: "vmware", confidence: "derived", what: "VMware's paravirtual drivers (vmxnet3, PVSCSI, balloon, VMCI) and hypercall interface" },
  { re: /^kvm-clock: (?:Using msrs|cpu \d+, msr)|^kvm-guest: |^KVM setup (?:pv remote TLB flush|async PF)|^kvm-stealtime: /, hypervisor: "kvm", confidence: "derived", what: "KVM's paravirtual clock and guest interfaces (kvm-clock, async PF, steal time)" },
  { re: /^vboxguest: |^vboxvideo: /, hypervisor: "virtualbox", confidence: "derived", what: "VirtualBox's guest drivers" },
  { re: /^acrn: |^ACRN HVLog:/, hypervisor: "acrn", confidence: "derived", what: "ACRN's guest interface" },
  { re: /^virtio[-_]mmio\b|^virtio_balloon\b/, hypervisor: null, confidence: "heuristic", what: "virtio over MMIO or a memory balloon: devices a virtual machine monitor provides" },
];

/** Virtio devices over PCI: what KVM/QEMU, Firecracker and bhyve guests use, but DPUs offer to bare-metal hosts too. */
const VIRTIO_PCI = /^virtio[-_](?:pci|net|blk|scsi|console|gpu|fs)\b/;
/** virtio also carries remote-processor messaging on phones and SoCs: no VM there. */
const NOT_A_VM = /^virtio_rpmsg|rpmsg/;

const TSC_FROM_HYPERVISOR = /^(?:(\S+): )?TSC freq read from hypervisor\b/;

/** The `DMI:` line's identity string, or null for other lines. */
export function dmiFromLogLine(message: string): string | null {
  const m = /^DMI: (.+?)\s*$/.exec(message);
  return m ? (m[1] as string) : null;
}

/**
 * The hypervisor facts one kernel-log line gives (usually none).
 * @param line the line (its message is matched, without timestamp)
 * @param logSource the log the line is in (`dmesg`, `/dev/kmsg`): a fact's source names both, built only for a line that gives one
 * @param nameOf maps a name the kernel prints (`vmware`, `Hyper-V`) to a hypervisor
 */
export function hypervisorFactsFromLogLine(line: KernelLogLine, logSource: string, nameOf: (name: string) => HypervisorName | null): Fact[] {
  const message = line.message;
  const source = () => logLineSource(logSource, line);
  const dmi = dmiFromLogLine(message);
  if (dmi !== null) {
    const rule = DMI_LINE_RULES.find((r) => r.re.test(dmi));
    return rule ? [fact(FACT.hypervisor, rule.hypervisor as HypervisorName, source(), rule.confidence, rule.what)] : [];
  }
  const acpi = /^ACPI: (?:RSDP|XSDT|RSDT) (?:0x)?[0-9A-Fa-f]+ [0-9A-Fa-f]+ \(v\d+ +([^\s)]+)/.exec(message);
  if (acpi) {
    const rule = ACPI_OEM_RULES.find((r) => r.oem.test(acpi[1] as string));
    return rule ? [fact(FACT.hypervisor, rule.hypervisor, source(), "heuristic", rule.what)] : [];
  }
  const tsc = TSC_FROM_HYPERVISOR.exec(message);
  if (tsc) {
    const out = [fact(FACT.hypervisorPresent, true, source(), "derived", "the kernel read the TSC frequency from a hypervisor")];
    const named = tsc[1] ? nameOf(tsc[1]) : null;
    if (named) out.push(fact(FACT.hypervisor, named, source(), "derived", `${tsc[1]} gave the kernel the TSC frequency`));
    return out;
  }
  if (NOT_A_VM.test(message)) return [];
  const driver = DRIVER_RULES.find((r) => r.re.test(message));
  if (driver) {
    return [driver.hypervisor ? fact(FACT.hypervisor, driver.hypervisor, source(), driver.confidence, driver.what) : fact(FACT.hypervisorPresent, true, source(), driver.confidence, driver.what)];
  }
  if (VIRTIO_PCI.test(message)) return [fact(VIRTUAL_DEVICE_FACT, "virtio", source(), "heuristic", "a virtio device: usual in KVM/QEMU, Firecracker and bhyve guests, but DPUs offer virtio to bare-metal hosts too")];
  return [];
}
