/**
 * Hypervisor evidence from firmware interfaces other than DMI strings, as
 * `systemd-detect-virt` and `virt-what` read them: the device tree's
 * `hypervisor` node (Xen, KVM and VMware put one in their guests' trees) and
 * QEMU's `fw-cfg` node, the SMBIOS "system is a virtual machine" flag, and the
 * s390 `/proc/sysinfo` control program.
 */
import { fact, type Fact } from "../facts.js";
import { FACT } from "../fact-names.js";
import type { SystemView } from "../system-view.js";

const DT_ROOTS = ["sys/firmware/devicetree/base", "proc/device-tree"];

/** A device-tree string-list property (NUL-separated). */
function stringList(bytes: Uint8Array): string[] {
  return new TextDecoder("latin1").decode(bytes).split("\0").filter((s) => s.length > 0);
}

function deviceTreeFacts(view: SystemView): Fact[] {
  for (const root of DT_ROOTS) {
    const out: Fact[] = [];
    const hv = view.readBytes(`${root}/hypervisor/compatible`, { maxBytes: 4096 });
    if (hv.ok) {
      const compat = stringList(hv.value);
      const named = compat.some((c) => c.startsWith("xen,")) ? "xen" : compat.includes("linux,kvm") ? "kvm" : compat.some((c) => /^vmware\b/.test(c)) ? "vmware" : "other";
      out.push(fact(FACT.hypervisor, named, hv.source, "derived", `the device tree's hypervisor node (${compat.join(", ").slice(0, 80)}) is written by the hypervisor for its guest`));
    }
    const top = view.list(root);
    if (top.ok) {
      const fwcfg = top.value.find((n) => /^fw-cfg(@|$)/.test(n));
      if (fwcfg) out.push(fact(FACT.hypervisor, "qemu", view.describe(`${root}/${fwcfg}`), "derived", "QEMU's firmware configuration device (fw-cfg) exists only in QEMU machines"));
      const compat = view.readBytes(`${root}/compatible`, { maxBytes: 4096 });
      if (compat.ok && stringList(compat.value).includes("linux,dummy-virt")) {
        out.push(fact(FACT.hypervisor, "qemu", compat.source, "heuristic", "linux,dummy-virt: the machine QEMU's (and kvmtool's) virt board describes"));
      }
    }
    if (out.length > 0 || top.ok) return out;
  }
  return [];
}

/**
 * SMBIOS type 0 (BIOS information), BIOS Characteristics Extension Byte 2 at
 * offset 0x13, bit 4: "system is a virtual machine" (SMBIOS 2.7+). Firmware of
 * QEMU, Hyper-V, VMware and others set it. A clear bit is not taken as proof of
 * bare metal: older virtual firmware leaves it clear.
 */
function smbiosFacts(view: SystemView): Fact[] {
  const raw = view.readBytes("sys/firmware/dmi/entries/0-0/raw", { maxBytes: 4096 });
  if (!raw.ok) return [];
  const b = raw.value;
  if (b.length < 0x14 || b[0] !== 0 || (b[1] ?? 0) < 0x14) return [];
  if (((b[0x13] as number) & 0x10) === 0) return [];
  return [fact(FACT.hypervisorPresent, true, `${raw.source} (SMBIOS BIOS characteristics extension byte 2, bit 4)`, "derived", "the firmware says the system is a virtual machine")];
}

/** s390: `VM00 Control Program: z/VM 7.2.0` or `KVM/Linux`. */
function sysinfoFacts(view: SystemView): Fact[] {
  const info = view.readText("proc/sysinfo", { maxBytes: 65536 });
  if (!info.ok) return [];
  const out: Fact[] = [];
  info.value.split(/\r?\n/).forEach((l, i) => {
    const m = /^VM\d\d Control Program:\s+(.+?)\s*$/.exec(l);
    if (!m || out.length > 0) return;
    const cp = m[1] as string;
    out.push(fact(FACT.hypervisor, /\bKVM\b/.test(cp) ? "kvm" : "other", `${info.source}:${i + 1}`, "derived", `the control program running this guest: ${cp.slice(0, 40)}`));
  });
  return out;
}

/** Every firmware-interface hypervisor fact the view gives. */
export function firmwareHypervisorFacts(view: SystemView): Fact[] {
  return [...deviceTreeFacts(view), ...smbiosFacts(view), ...sysinfoFacts(view)];
}
