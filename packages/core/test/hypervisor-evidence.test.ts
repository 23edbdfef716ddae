/**
 * Hypervisor evidence beyond CPUID and sysfs: the kernel log's DMI line, ACPI
 * OEM ids, paravirtual drivers, virtual devices and "TSC freq read from
 * hypervisor"; the device tree's hypervisor and fw-cfg nodes, the SMBIOS
 * virtual-machine flag and s390 /proc/sysinfo. Checked on the real captured
 * machines (../shared/fixtures), on this machine's own kernel log, and — for
 * platforms no fixture covers — on snapshot trees built here with the lines
 * and bytes those kernels and firmware write.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DirectorySystemView, FACT, FactSet, HypervisorEvidenceProbe, resolveVirtualization, type Fact } from "../src/index.js";
import { VIRTUAL_DEVICE_FACT } from "../src/probing/probes/hypervisor-log-evidence.js";
import { announceFixtureSkip, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";

announceFixtureSkip();

function probe(root: string): Fact[] {
  return new HypervisorEvidenceProbe().probe(DirectorySystemView.open(root));
}

function summary(facts: readonly Fact[]): string[] {
  return facts.filter((f) => f.name === FACT.hypervisor || f.name === FACT.hypervisorPresent || f.name === VIRTUAL_DEVICE_FACT).map((f) => `${f.name}=${String(f.value)} ${f.confidence} ${f.source.replace(/^(\S+:\d+) .*/, "$1")}`);
}

describe.skipIf(!HAVE_FIXTURES)("on the captured machines", () => {
  it("Hyper-V guest: the DMI line, the ACPI OEM id and Hyper-V's own messages, each once, with its line", () => {
    const facts = probe(machineRoot("rootfs__hyperv-gen2-vm-xeon-w2155"));
    expect(summary(facts)).toEqual([
      "virt.hypervisor=hyperv heuristic var/log/dmesg:40",
      "virt.hypervisor=hyperv derived var/log/dmesg:41",
      "virt.hypervisor=hyperv derived var/log/dmesg:42",
      "virt.hypervisor=hyperv heuristic var/log/dmesg:78",
      "virt.hypervisor=hyperv derived sys/devices/system/clocksource/clocksource0/available_clocksource lists hyperv_clocksource_tsc_page",
    ]);
    expect(facts[0]?.source).toMatch(/^var\/log\/dmesg:40 "DMI: Microsoft Corporation Virtual Machine\/Virtual Machine, BIOS Hyper-V UEFI/);
    expect(facts[0]?.reason).toMatch(/Hyper-V's virtual firmware/);
    expect(facts[3]?.source).toMatch(/"ACPI: RSDP 0x00000000F7FFA014 000024 \(v02 VRTUAL\)"$/);
  });

  it("Xen HVM guest on EC2: the DMI line names Xen, the ACPI tables say Xen, Xen's own lines", () => {
    expect(summary(probe(machineRoot("misc-dmesg__aws-ec2-xen-hvm-e5-2676v3")))).toEqual([
      "virt.hypervisor=xen heuristic var/log/dmesg:14",
      "virt.hypervisor=xen derived var/log/dmesg:15",
      "virt.hypervisor=xen derived var/log/dmesg:16",
      "virt.hypervisor=xen heuristic var/log/dmesg:50",
      "virt.hypervisor=xen derived var/log/dmesg:115",
    ]);
  });

  it("Xen on Arm: the front-end drivers (no detection banner on Arm)", () => {
    const facts = probe(machineRoot("misc-dmesg__xen-arm-domU-arndale-cortex-a15"));
    expect(facts.find((f) => /xen:grant_table/.test(f.source))).toMatchObject({ name: FACT.hypervisor, value: "xen", confidence: "derived" });
  });

  it("bare metal stays silent: a Microsoft laptop's DMI line, a Supermicro KVM host, phones whose virtio carries rpmsg", () => {
    for (const m of ["misc-dmesg__surface-book-i5-6300u-skylake", "misc-dmesg__supermicro-h13dsg-epyc-9654", "misc-dmesg__lenovo-z575-amd-a6-3400m-llano", "pytorch-cpuinfo__huawei-mate-8", "pytorch-cpuinfo__zenfone-2"]) {
      expect(summary(probe(machineRoot(m))), m).toEqual([]);
    }
  });
});

// This machine's own kernel log, read live when it may be (root, or dmesg_restrict=0).
const live = new HypervisorEvidenceProbe().probe(DirectorySystemView.open("/"));
const dmesg = spawnSync("dmesg", { encoding: "utf8" });
const liveLog = dmesg.status === 0 ? dmesg.stdout : "";
if (!liveLog) console.warn("skipping the live kernel-log checks: dmesg is not readable here");

describe.skipIf(!liveLog)("on this machine's kernel log", () => {
  const cases: [RegExp, string, string][] = [
    [/kvm-clock: Using msrs [0-9a-f]+ and [0-9a-f]+/, FACT.hypervisor, "kvm"],
    [/hv_vmbus: Vmbus version/, FACT.hypervisor, "hyperv"],
    [/xen:events: /, FACT.hypervisor, "xen"],
    [/vmware: hypercall mode/, FACT.hypervisor, "vmware"],
    [/ACPI: RSDP 0x[0-9A-F]+ [0-9A-F]+ \(v\d+ FIRECK\)/, FACT.hypervisor, "kvm"],
    [/TSC freq read from hypervisor/, FACT.hypervisorPresent, "true"],
  ];
  for (const [line, name, value] of cases) {
    it.skipIf(!line.test(liveLog))(`a log line like ${line.source.slice(0, 40)} gives ${name}=${value}, naming its line`, () => {
      const text = (liveLog.split("\n").find((l) => line.test(l)) as string).replace(/^\[[^\]]*\]\s*/, "");
      const f = live.find((x) => x.name === name && String(x.value) === value && x.source.includes(text.slice(0, 40)));
      expect(f, `${text}\n${summary(live).join("\n")}`).toBeDefined();
    });
  }

  it("a virtio device over PCI is a virtual-device fact, not proof of a hypervisor", () => {
    const line = liveLog.split("\n").find((l) => /\] virtio-pci \S+: /.test(l));
    if (!line) return expect(live.filter((f) => f.name === VIRTUAL_DEVICE_FACT)).toEqual([]);
    const f = live.find((x) => x.name === VIRTUAL_DEVICE_FACT);
    expect(f).toMatchObject({ value: "virtio", confidence: "heuristic" });
    expect(live.some((x) => x.name === FACT.hypervisorPresent && /virtio-pci/.test(x.source))).toBe(false);
  });
});

describe("on snapshot trees with the lines and files other platforms write", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function tree(files: Record<string, string | Uint8Array>): string {
    const root = mkdtempSync(join(tmpdir(), "cs-core-hv-"));
    dirs.push(root);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    return root;
  }
  const log = (...lines: string[]): string => lines.map((l, i) => `[    0.${String(i).padStart(6, "0")}] ${l}\n`).join("");

  it("VMware: the TSC frequency read from the hypervisor, the DMI line, vmxnet3 and the balloon", () => {
    const facts = probe(
      tree({
        "var/log/dmesg": log(
          "DMI: VMware, Inc. VMware Virtual Platform/440BX Desktop Reference Platform, BIOS 6.00 12/12/2018",
          "vmware: hypercall mode: 0x02",
          "vmware: TSC freq read from hypervisor : 2893.202 MHz",
          "vmw_balloon: Initializing balloon driver",
          "VMware vmxnet3 virtual NIC driver - version 1.7.0.0-k-NAPI",
        ),
      }),
    );
    expect(summary(facts)).toEqual([
      "virt.hypervisor=vmware heuristic var/log/dmesg:1",
      "virt.hypervisor=vmware derived var/log/dmesg:2",
      "virt.hypervisor_present=true derived var/log/dmesg:3",
      "virt.hypervisor=vmware derived var/log/dmesg:3",
    ]);
    expect(resolveVirtualization(new FactSet(facts))).toMatchObject({ role: "guest", hypervisor: "vmware" });
  });

  it("QEMU/KVM: the DMI line, BOCHS ACPI tables, kvm-clock; virtio-mmio shows a VMM, virtio_rpmsg does not", () => {
    const facts = probe(
      tree({
        "var/log/dmesg": log(
          "DMI: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2 04/01/2014",
          "ACPI: RSDP 0x00000000000F52A0 000014 (v00 BOCHS )",
          "kvm-clock: Using msrs 4b564d01 and 4b564d00",
          "virtio_rpmsg_bus virtio0: rpmsg host is online",
          "virtio-mmio: Registering device virtio-mmio.0 at 0xd0000000-0xd0000fff, IRQ 5.",
        ),
      }),
    );
    expect(summary(facts)).toEqual([
      "virt.hypervisor=qemu heuristic var/log/dmesg:1",
      "virt.hypervisor=qemu heuristic var/log/dmesg:2",
      "virt.hypervisor=kvm derived var/log/dmesg:3",
      "virt.hypervisor_present=true heuristic var/log/dmesg:5",
    ]);
    // The derived kvm-clock beats QEMU's heuristic firmware strings: KVM is what runs the guest.
    expect(resolveVirtualization(new FactSet(facts))).toMatchObject({ role: "guest", hypervisor: "kvm" });
  });

  it("EC2 metal is not a VM; EC2 Nitro, GCE and VirtualBox DMI lines name their hypervisors", () => {
    const dmi = (s: string): string[] => summary(probe(tree({ "var/log/dmesg": log(`DMI: ${s}`) })));
    expect(dmi("Amazon EC2 m5.metal/Not Specified, BIOS 1.0 10/16/2017")).toEqual([]);
    expect(dmi("Amazon EC2 c5.large/, BIOS 1.0 10/16/2017")).toEqual(["virt.hypervisor=kvm heuristic var/log/dmesg:1"]);
    expect(dmi("Google Google Compute Engine/Google Compute Engine, BIOS Google 01/01/2011")).toEqual(["virt.hypervisor=kvm heuristic var/log/dmesg:1"]);
    expect(dmi("innotek GmbH VirtualBox/VirtualBox, BIOS VirtualBox 12/01/2006")).toEqual(["virt.hypervisor=virtualbox heuristic var/log/dmesg:1"]);
    expect(dmi("Dell Inc. PowerEdge R740/0923K0, BIOS 2.12.2 07/09/2021")).toEqual([]);
  });

  it("the device tree: Xen's hypervisor node, QEMU's fw-cfg node and its virt board", () => {
    const xen = probe(tree({ "sys/firmware/devicetree/base/hypervisor/compatible": new TextEncoder().encode("xen,xen-4.5\0xen,xen\0"), "sys/firmware/devicetree/base/compatible": "arndale\0" }));
    expect(summary(xen)).toEqual(["virt.hypervisor=xen derived sys/firmware/devicetree/base/hypervisor/compatible"]);
    expect(xen.find((f) => f.name === FACT.hypervisor)?.reason).toMatch(/hypervisor node \(xen,xen-4\.5, xen,xen\)/);
    const qemu = probe(tree({ "sys/firmware/devicetree/base/fw-cfg@9020000/compatible": "qemu,fw-cfg-mmio\0", "sys/firmware/devicetree/base/compatible": "linux,dummy-virt\0" }));
    expect(summary(qemu)).toEqual(["virt.hypervisor=qemu derived sys/firmware/devicetree/base/fw-cfg@9020000", "virt.hypervisor=qemu heuristic sys/firmware/devicetree/base/compatible"]);
  });

  it("SMBIOS: the BIOS characteristics' virtual-machine bit; a clear bit says nothing", () => {
    const bios = (ext2: number): Uint8Array => {
      const b = new Uint8Array(0x18);
      b[0] = 0; // type 0: BIOS information
      b[1] = 0x18; // formatted length
      b[0x12] = 0x03;
      b[0x13] = ext2;
      return b;
    };
    expect(summary(probe(tree({ "sys/firmware/dmi/entries/0-0/raw": bios(0x1c) })))).toEqual(["virt.hypervisor_present=true derived sys/firmware/dmi/entries/0-0/raw (SMBIOS BIOS characteristics extension byte 2, bit 4)"]);
    expect(summary(probe(tree({ "sys/firmware/dmi/entries/0-0/raw": bios(0x0c) })))).toEqual([]);
    expect(summary(probe(tree({ "sys/firmware/dmi/entries/0-0/raw": bios(0x1c).slice(0, 0x10) })))).toEqual([]);
  });

  it("s390: the control program in /proc/sysinfo", () => {
    expect(summary(probe(tree({ "proc/sysinfo": "Manufacturer:         IBM\nVM00 Name:            GUEST1\nVM00 Control Program: KVM/Linux\n" })))).toEqual(["virt.hypervisor=kvm derived proc/sysinfo:3"]);
    expect(summary(probe(tree({ "proc/sysinfo": "VM00 Control Program: z/VM    7.2.0\n" })))).toEqual(["virt.hypervisor=other derived proc/sysinfo:1"]);
  });
});
