import { fact, unknownFact, type Fact } from "../facts.js";
import { FACT, type HypervisorName } from "../fact-names.js";
import { kernelLogLines, logLineSource } from "../kernel-log.js";
import type { CapabilityProbe } from "../probe.js";
import type { SystemView } from "../system-view.js";
import { firmwareHypervisorFacts } from "./hypervisor-firmware-evidence.js";
import { hypervisorFactsFromLogLine } from "./hypervisor-log-evidence.js";

/** Maps the name in the kernel's `Hypervisor detected: X` / `Booting paravirtualized kernel on X` lines. */
export function hypervisorFromKernelName(name: string): HypervisorName | null {
  const n = name.trim().toLowerCase();
  if (n === "bare hardware" || n === "") return null;
  if (n === "kvm") return "kvm";
  // PVM ("pagetable-based virtual machine") is a KVM variant: its guests run kvm-clock.
  if (n === "pvm") return "kvm";
  if (n.includes("hyper-v")) return "hyperv";
  if (n.startsWith("vmware")) return "vmware";
  if (n.startsWith("xen")) return "xen";
  if (n === "acrn") return "acrn";
  if (n.includes("bhyve")) return "bhyve";
  return "other";
}

/** Clocksources that exist only inside a guest of that hypervisor. */
const GUEST_CLOCKSOURCES: Record<string, HypervisorName> = {
  "kvm-clock": "kvm",
  hyperv_clocksource_tsc_page: "hyperv",
  hyperv_clocksource_msr: "hyperv",
  xen: "xen",
  "vmware-tsc-early": "vmware",
};

interface DmiRule {
  readonly test: (dmi: Record<string, string>) => boolean;
  readonly hypervisor: HypervisorName;
  readonly what: string;
}

const has = (v: string | undefined, re: RegExp) => v !== undefined && re.test(v);

/** DMI strings virtual firmware sets; a bare-metal server of the same vendor differs (e.g. `Amazon EC2` + `*.metal`). */
const DMI_RULES: readonly DmiRule[] = [
  { test: (d) => has(d.sys_vendor, /^QEMU$/i) || has(d.modalias, /svnQEMU/), hypervisor: "qemu", what: "sys_vendor QEMU (KVM or TCG)" },
  { test: (d) => has(d.product_name, /KVM|RHEV Hypervisor|OpenStack Nova/i) || has(d.modalias, /pn[^:]*KVM/i), hypervisor: "kvm", what: "product names KVM" },
  { test: (d) => has(d.sys_vendor, /^Microsoft Corporation$/) && has(d.product_name, /^Virtual Machine$/), hypervisor: "hyperv", what: "Microsoft Corporation Virtual Machine" },
  { test: (d) => has(d.sys_vendor, /^VMware/) || has(d.product_name, /^VMware/), hypervisor: "vmware", what: "VMware firmware" },
  { test: (d) => has(d.sys_vendor, /^Xen$/) || has(d.bios_version, /xen|amazon/i) && has(d.product_name, /domU/i), hypervisor: "xen", what: "Xen firmware" },
  { test: (d) => has(d.sys_vendor, /^innotek GmbH$/) || has(d.product_name, /^VirtualBox$/), hypervisor: "virtualbox", what: "VirtualBox firmware" },
  { test: (d) => has(d.sys_vendor, /^BHYVE$/i) || has(d.bios_vendor, /^BHYVE$/i), hypervisor: "bhyve", what: "bhyve firmware" },
  { test: (d) => has(d.sys_vendor, /^Amazon EC2$/) && !has(d.product_name, /\.metal/), hypervisor: "kvm", what: "Amazon EC2 non-metal instance (Nitro is KVM-based; Xen-era instances say Xen)" },
  { test: (d) => has(d.sys_vendor, /^Nutanix$/) || has(d.product_name, /^AHV$/), hypervisor: "kvm", what: "Nutanix AHV (KVM-based)" },
  { test: (d) => has(d.sys_vendor, /^Alibaba Cloud$/) && has(d.product_name, /ECS/), hypervisor: "kvm", what: "Alibaba Cloud ECS (KVM-based)" },
  { test: (d) => has(d.sys_vendor, /^Google$/) && has(d.product_name, /Google Compute Engine/), hypervisor: "kvm", what: "Google Compute Engine (KVM-based)" },
];

/** PCI vendor:device ids of paravirtual devices that only a given hypervisor provides. */
const PCI_DEVICES: readonly { readonly match: RegExp; readonly hypervisor: HypervisorName; readonly what: string; readonly confidence: "derived" | "heuristic" }[] = [
  { match: /^5853:0001$/, hypervisor: "xen", what: "Xen platform device (xen-platform-pci)", confidence: "derived" },
  { match: /^80ee:(cafe|beef)$/, hypervisor: "virtualbox", what: "VirtualBox guest service / graphics adapter", confidence: "derived" },
  { match: /^15ad:(0405|0740|0770|07a0|07b0|0790)$/, hypervisor: "vmware", what: "VMware virtual device", confidence: "derived" },
  { match: /^1414:5353$/, hypervisor: "hyperv", what: "Hyper-V synthetic video", confidence: "derived" },
  { match: /^(1b36:[0-9a-f]{4}|1234:1111)$/, hypervisor: "qemu", what: "QEMU-emulated device (Red Hat QEMU / Bochs VGA ids)", confidence: "heuristic" },
];

/** Parses `/proc/bus/pci/devices`: the second column is vendor (16 bits) then device (16 bits), hex. */
export function pciIds(text: string): { line: number; id: string }[] {
  const out: { line: number; id: string }[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    const m = /^[0-9a-fA-F]{4}\s+([0-9a-fA-F]{4})([0-9a-fA-F]{4})\s/.exec(l);
    if (m) out.push({ line: i + 1, id: `${(m[1] as string).toLowerCase()}:${(m[2] as string).toLowerCase()}` });
  });
  return out;
}

/** Kernel-log lines that name a hypervisor outside the `Hypervisor detected:` banner (Xen on Arm has none). */
const LOG_HYPERVISOR: readonly { readonly re: RegExp; readonly hypervisor: HypervisorName; readonly what: string }[] = [
  { re: /^Xen \d+\.\d+ support found/, hypervisor: "xen", what: "the kernel found Xen (Arm guests print this instead of a detection banner)" },
  { re: /^Machine model: XENVM-/, hypervisor: "xen", what: "the device tree Xen's toolstack builds for a guest" },
];

/** Kernel-log lines printed when KVM initialises as a hypervisor on this kernel. */
const KVM_HOST_LOG = /^(?:kvm \[\d+\]: (?:VHE|Hyp|nVHE|Protected nVHE) mode initialized|kvm_amd: (?:TSC scaling|Nested|AVIC|Virtual)|kvm_intel: |kvm: Nested Virtualization)/;

const DMI_FIELDS = ["sys_vendor", "product_name", "bios_vendor", "bios_version", "modalias"] as const;
const DMI_DIRS = ["sys/class/dmi/id", "sys/devices/virtual/dmi/id"];

/**
 * Hypervisor evidence that is not CPUID — what `systemd-detect-virt` and
 * `virt-what` look at, and what only the kernel log has: `/sys/hypervisor/type`,
 * `/proc/xen`, DMI strings (sysfs, or the log's `DMI:` line), PCI ids of
 * paravirtual devices, the device tree's hypervisor node, the SMBIOS "virtual
 * machine" bit, s390 `/proc/sysinfo`, the log's `Hypervisor detected:`, ACPI OEM
 * ids, paravirtual drivers, virtual devices and "TSC freq read from hypervisor",
 * and guest-only clocksources. Each is a fact with its source and a confidence.
 * (The CPUID signature is the x86 package's.)
 */
export class HypervisorEvidenceProbe implements CapabilityProbe {
  readonly id = "hypervisor-evidence";

  probe(view: SystemView): Fact[] {
    const out: Fact[] = [];
    const type = view.readText("sys/hypervisor/type");
    if (type.ok) {
      const t = type.value.trim().toLowerCase();
      if (t === "xen") out.push(fact(FACT.hypervisor, "xen", type.source, "definitive"));
      else if (t.length > 0) out.push(fact(FACT.hypervisor, "other", type.source, "definitive", `type ${JSON.stringify(t.slice(0, 40))}`));
    }
    const caps = view.readText("proc/xen/capabilities");
    if (caps.ok) {
      out.push(fact(FACT.hypervisor, "xen", caps.source, "definitive", "/proc/xen exists only under Xen"));
      const dom0 = caps.value.split(/\s+/).includes("control_d");
      out.push(fact(FACT.role, dom0 ? "host" : "guest", caps.source, "definitive", dom0 ? "control_d: this is dom0, the Xen control domain" : "no control_d: an unprivileged domain (domU)"));
    }
    const dmi: Record<string, string> = {};
    const dmiSource: Record<string, string> = {};
    for (const field of DMI_FIELDS) {
      for (const dir of DMI_DIRS) {
        const r = view.readText(`${dir}/${field}`, { maxBytes: 4096 });
        if (r.ok && dmi[field] === undefined) {
          dmi[field] = r.value.trim();
          dmiSource[field] = r.source;
        }
      }
    }
    for (const rule of DMI_RULES) {
      if (rule.test(dmi)) {
        const src = Object.keys(dmi).map((k) => dmiSource[k]).join(", ");
        out.push(fact(FACT.hypervisor, rule.hypervisor, `DMI (${src})`, "heuristic", rule.what));
        break;
      }
    }
    const pci = view.readText("proc/bus/pci/devices");
    if (pci.ok) {
      for (const { line, id } of pciIds(pci.value)) {
        const dev = PCI_DEVICES.find((d) => d.match.test(id));
        if (dev) out.push(fact(FACT.hypervisor, dev.hypervisor, `${pci.source}:${line} (PCI ${id})`, dev.confidence, dev.what));
      }
    }
    const log = view.kernelLog();
    if (log.ok) {
      let kvmHostLine = false;
      const seenLogEvidence = new Set<string>();
      for (const line of kernelLogLines(log.value)) {
        const m = /^Hypervisor detected: (.+?)\s*$/.exec(line.message) ?? /^Booting paravirtualized kernel on (.+?)\s*$/.exec(line.message);
        if (m) {
          const hv = hypervisorFromKernelName(m[1] as string);
          if (hv) out.push(fact(FACT.hypervisor, hv, logLineSource(log.source, line), "derived", "the kernel's own hypervisor detection"));
          continue;
        }
        const named = LOG_HYPERVISOR.find((r) => r.re.test(line.message));
        if (named) out.push(fact(FACT.hypervisor, named.hypervisor, logLineSource(log.source, line), "derived", named.what));
        // DMI, ACPI OEM ids, paravirtual drivers, virtual devices: the first line of each kind is enough.
        for (const f of hypervisorFactsFromLogLine(line, log.source, hypervisorFromKernelName)) {
          const kind = `${f.name}|${String(f.value)}|${f.reason ?? ""}`;
          if (seenLogEvidence.has(kind)) continue;
          seenLogEvidence.add(kind);
          out.push(f);
        }
        if (!kvmHostLine && KVM_HOST_LOG.test(line.message)) {
          kvmHostLine = true;
          out.push(fact(FACT.kvmHost, true, logLineSource(log.source, line), "derived", "KVM initialised as a hypervisor in this kernel"));
        }
      }
    } else {
      out.push(unknownFact("kernel.log", log.source, log.reason));
    }
    out.push(...firmwareHypervisorFacts(view));
    const avail = view.readText("sys/devices/system/clocksource/clocksource0/available_clocksource");
    if (avail.ok) {
      for (const name of avail.value.split(/\s+/)) {
        const hv = GUEST_CLOCKSOURCES[name];
        if (hv) out.push(fact(FACT.hypervisor, hv, `${avail.source} lists ${name}`, "derived", `${name} registers only in a ${hv} guest`));
      }
    }
    return out;
  }
}

/** Evidence that this machine is a KVM host: `/dev/kvm`, KVM's debugfs directory with VMs. */
export class KvmHostProbe implements CapabilityProbe {
  readonly id = "kvm-host";

  probe(view: SystemView): Fact[] {
    const out: Fact[] = [];
    const dev = view.kind("dev/kvm");
    if (dev.ok) {
      out.push(fact(FACT.kvmHost, dev.value === "character-device" || !view.live, dev.source, "derived", "the KVM device exists: this kernel can run KVM guests"));
    } else if (dev.missing && view.live) {
      out.push(fact(FACT.kvmHost, false, dev.source, "derived", "no KVM device"));
    } else if (dev.missing) {
      out.push(unknownFact(FACT.kvmHost, dev.source, "not in the snapshot"));
    } else {
      out.push(unknownFact(FACT.kvmHost, dev.source, dev.reason));
    }
    const dbg = view.list("sys/kernel/debug/kvm");
    if (dbg.ok) {
      const vms = dbg.value.filter((n) => /^\d+-\d+$/.test(n));
      out.push(fact(FACT.kvmVms, vms, dbg.source, "definitive", "KVM debugfs directories <pid>-<fd>, one per VM"));
    } else if (!dbg.missing) {
      out.push(unknownFact(FACT.kvmVms, dbg.source, dbg.reason));
    }
    return out;
  }
}
