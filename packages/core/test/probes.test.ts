import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDirs } from "../../../test/support/hostile-tree.js";
import {
  archFromCpuinfo,
  ArchProbe,
  DirectorySystemView,
  FactSet,
  HypervisorEvidenceProbe,
  KernelClocksourceProbe,
  KvmHostProbe,
  resolveVirtualization,
  type CapabilityProbe,
} from "../src/index.js";

const tempDir = scratchDirs();

function view(files: Record<string, string>) {
  const dir = tempDir("cs-probe-");
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return new DirectorySystemView(dir, false);
}

function run(files: Record<string, string>, probes: CapabilityProbe[] = [new ArchProbe(), new KernelClocksourceProbe(), new HypervisorEvidenceProbe(), new KvmHostProbe()]) {
  const v = view(files);
  const facts = new FactSet();
  for (const p of probes) facts.add(...p.probe(v, facts));
  return facts;
}

describe("architecture from cpuinfo", () => {
  it("tells a 32-bit x86 kernel by its bug lines, not by the CPU's lm flag", () => {
    expect(archFromCpuinfo("vendor_id : GenuineIntel\nfdiv_bug : no\nflags : fpu lm\n").arch).toBe("x86");
    expect(archFromCpuinfo("vendor_id : GenuineIntel\nflags : fpu tsc lm constant_tsc\n").arch).toBe("x86_64");
    expect(archFromCpuinfo("vendor_id : AuthenticAMD\nflags : fpu tsc\n").arch).toBe("x86");
  });

  it("tells arm64 from 32-bit Arm by the kernel's Features words", () => {
    expect(archFromCpuinfo("processor : 0\nFeatures : fp asimd evtstrm aes\nCPU implementer : 0x41\n").arch).toBe("arm64");
    expect(archFromCpuinfo("processor : 0\nmodel name : ARMv7 Processor rev 4 (v7l)\nFeatures : half thumb fastmult vfp edsp neon\n").arch).toBe("arm");
    expect(archFromCpuinfo("Processor : AArch64 Processor rev 4 (aarch64)\n").arch).toBe("arm64");
  });

  it("says unknown for other CPUs and garbage", () => {
    expect(archFromCpuinfo("cpu : POWER9\n").arch).toBeNull();
    expect(archFromCpuinfo("\u0000\u0001garbage").arch).toBeNull();
  });
});

describe("generic probes", () => {
  it("reads the kernel clocksources and rejects malformed ones with a reason", () => {
    const dir = "sys/devices/system/clocksource/clocksource0";
    const facts = run({ [`${dir}/current_clocksource`]: "tsc\n", [`${dir}/available_clocksource`]: "tsc hpet acpi_pm \n" });
    expect(facts.value("kernel.clocksource.current")).toBe("tsc");
    expect(facts.value("kernel.clocksource.available")).toEqual(["tsc", "hpet", "acpi_pm"]);
    const bad = run({ [`${dir}/current_clocksource`]: "\u0000\u00ff" });
    expect(bad.best("kernel.clocksource.current")).toBeUndefined();
    expect(bad.unknownReasons("kernel.clocksource.current").join()).toMatch(/malformed/);
  });

  it("falls back to the kernel log's last clocksource switch", () => {
    const facts = run({ "var/log/dmesg": "[    1.0] clocksource: Switched to clocksource hpet\n[    3.0] clocksource: Switched to clocksource tsc\n" });
    expect(facts.best("kernel.clocksource.current")).toMatchObject({ value: "tsc", confidence: "derived", source: 'var/log/dmesg:2 "clocksource: Switched to clocksource tsc"' });
  });

  it("identifies Xen dom0 as the host and domU as a guest", () => {
    expect(resolveVirtualization(run({ "proc/xen/capabilities": "control_d\n" }))).toMatchObject({ role: "host", hypervisor: "xen" });
    expect(resolveVirtualization(run({ "proc/xen/capabilities": "", "sys/hypervisor/type": "xen\n" }))).toMatchObject({ role: "guest", hypervisor: "xen" });
  });

  it("weighs the kernel's own detection above a DMI guess and reports the conflict", () => {
    const facts = run({
      "sys/class/dmi/id/sys_vendor": "QEMU\n",
      "var/log/dmesg": "[    0.000000] Hypervisor detected: KVM\n",
    });
    const v = resolveVirtualization(facts);
    expect(v).toMatchObject({ role: "guest", hypervisor: "kvm" });
    expect(v.notes.join("\n")).toMatch(/disagree.*qemu/);
  });

  it("does not call a machine bare metal without evidence", () => {
    expect(resolveVirtualization(run({ "proc/cpuinfo": "vendor_id : GenuineIntel\nflags : fpu lm\n" })).role).toBe("unknown");
  });

  it("counts guest-only clocksources and KVM debugfs as evidence", () => {
    const facts = run({
      "sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc kvm-clock\n",
      "dev/kvm": "",
      "sys/kernel/debug/kvm/1234-11/vcpu0/tsc-offset": "-5\n",
    });
    expect(facts.value("virt.hypervisor")).toBe("kvm");
    expect(facts.value("virt.kvm_host")).toBe(true);
    expect(facts.value("virt.kvm_vms")).toEqual(["1234-11"]);
    expect(resolveVirtualization(facts).notes.join()).toMatch(/nested/);
  });

  it("names hypervisors from their paravirtual PCI devices", () => {
    const pci = "0000\t80861237\t0\t0\n0018\t58530001\ta9\tc101\n";
    expect(run({ "proc/bus/pci/devices": pci }).best("virt.hypervisor")).toMatchObject({ value: "xen", source: "proc/bus/pci/devices:2 (PCI 5853:0001)" });
    expect(run({ "proc/bus/pci/devices": "0020\t80eecafe\t14\td021\n" }).value("virt.hypervisor")).toBe("virtualbox");
  });

  it("finds Xen on Arm and KVM hosts in the kernel log", () => {
    const xen = run({ "var/log/dmesg": "[    0.000000] Machine model: XENVM-4.5\n[    0.022212] Xen 4.5 support found, events_irq=31\n" });
    expect(xen.named("virt.hypervisor").map((f) => f.value)).toEqual(["xen", "xen"]);
    const host = run({ "var/log/dmesg": "[    4.141005] kvm [1]: VHE mode initialized successfully\n" });
    expect(host.best("virt.kvm_host")).toMatchObject({ value: true, confidence: "derived" });
    expect(resolveVirtualization(host).role).toBe("host");
  });

  it("reads an x86 kernel's word size from its boot log", () => {
    expect(run({ "var/log/dmesg": "[    0.0] Linux version 5.14.0-570.el9_6.x86_64 (mockbuild@x) (gcc)\n" }).value("arch")).toBe("x86_64");
    expect(run({ "var/log/dmesg": "[    0.0] BIOS-e820: [mem 0x0-0x9fbff] usable\n[    0.1]   DMA32    [mem 0x01000000-0xffffffff]\n" }).value("arch")).toBe("x86_64");
    expect(run({ "var/log/dmesg": "[    0.0] BIOS-e820: [mem 0x0-0x9fbff] usable\n[    0.1]   HighMem  [mem 0x37000000-0x7fffffff]\n" }).value("arch")).toBe("x86");
    // DMA32 alone is no x86 evidence: arm64 kernels have the zone too.
    expect(run({ "var/log/dmesg": "[    1.8]   DMA32    empty\n" }).best("arch")).toBeUndefined();
  });

  it("calls a QEMU-named CPU a QEMU guest, and keeps a heuristic 'no hypervisor' from meaning bare metal", () => {
    const facts = new FactSet([{ name: "cpu.model", value: "QEMU Virtual CPU version 2.5+", source: "proc/cpuinfo", confidence: "definitive" }]);
    expect(resolveVirtualization(facts)).toMatchObject({ role: "guest", hypervisor: "qemu" });
    const weak = new FactSet([{ name: "virt.hypervisor_present", value: false, source: "proc/cpuinfo flags", confidence: "heuristic" }]);
    expect(resolveVirtualization(weak).role).toBe("unknown");
    const strong = new FactSet([{ name: "virt.hypervisor_present", value: false, source: "CPUID 0x1 ECX[31]", confidence: "definitive" }]);
    expect(resolveVirtualization(strong).role).toBe("bare-metal");
  });
});
