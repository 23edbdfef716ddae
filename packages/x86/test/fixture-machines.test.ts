import { buildProbeReport, ClockSelector, createClockContainer, SYSTEM_VIEW, type SystemView } from "@clocksource/core";
import { describe, expect, it } from "vitest";
import { announceFixtureSkip, fixtureMachines, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";
import { register } from "../src/index.js";

announceFixtureSkip();

interface Expected {
  readonly invariant: boolean | null;
  readonly role: "guest" | "host" | "bare-metal" | "unknown";
  readonly hypervisor: string | null;
  readonly tscHz: number | null;
  readonly unstable: boolean | null;
}

/**
 * What each x86 snapshot's files show, read by hand (see the notes). A
 * cpuinfo-only machine without the `hypervisor` flag has role "unknown": the
 * missing flag is only heuristic evidence of bare metal (virt-what's own CPUID
 * helper, a peer's expectation, says VMware/Hyper-V/Xen for some of them; the
 * snapshot holds no CPUID to show it). Role and hypervisor come from core's
 * resolution over every probe's facts (PCI ids, DMI, QEMU model names, …).
 */
const EXPECTED: Record<string, Expected> = {
  // cpuinfo only: `tsc` without constant_tsc
  "hwloc__16amd64-8n2c": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  // constant_tsc + nonstop_tsc + tsc_known_freq; no dmesg or CPUID for the frequency
  "hwloc__20em64t-hybrid-1p6c2t+2ca4co1t": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  // hypervisor flag; DMI modalias names CloudStack KVM; constant_tsc without nonstop_tsc
  "hwloc__2pa-pcidomain32bits": { invariant: false, role: "guest", hypervisor: "kvm", tscHz: null, unstable: null },
  // 0x80000007 EDX=0x6799 (bit 8 set); max basic leaf 0x10: no 0x15
  "hwloc__AMD-19h-Zen4-2xEpyc-9654": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  // 0x80000007 EDX=0xf (bit 8 clear)
  "hwloc__AMD-K8-SledgeHammer-2xOpteron-250": { invariant: false, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  // leaf 1 ECX bit 31 set, no 0x4000_0000 leaves in the dump; the brand "QEMU Virtual CPU" names QEMU (heuristic)
  "hwloc__Intel-CPUID.1F-Qemu-2p3d3c2t": { invariant: false, role: "guest", hypervisor: "qemu", tscHz: null, unstable: null },
  "hwloc__Intel-Core-2xXeon-E5345": { invariant: false, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  "hwloc__Intel-Nehalem-2xXeon-X5550": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  // 0x15 = 2 / 0x72 / 38.4 MHz → 38.4 MHz × 114 / 2
  "hwloc__Intel-RaptorLake-Corei7-1370P": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 2_188_800_000, unstable: null },
  // 0x15 = 2 / 0xb0 / 25 MHz → 25 MHz × 176 / 2
  "hwloc__Intel-SapphireRapids-2xXeonMax9460": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 2_200_000_000, unstable: null },
  // 0x15 = 2 / 0xb8 / 0 and 0x16 base 2300: Skylake-SP's 25 MHz crystal × 184 / 2 (0x16 agrees)
  "hwloc__Intel-Skylake-2xXeon6140": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 2_300_000_000, unstable: null },
  "instlatx64__AuthenticAMD0100F42_K10_Deneb": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  // captured inside a Hyper-V partition: `Microsoft Hv` at 0x40000000
  // CPUID 0x40000003 EBX = 0x002BB9FF: bit 0 (CreatePartitions) is set — the Hyper-V root partition (Windows with VBS), the host side.
  "instlatx64__AuthenticAMD0700F01_K16_Kabini3": { invariant: true, role: "host", hypervisor: "hyperv", tscHz: null, unstable: null },
  "instlatx64__AuthenticAMD0800F12_K17_Zen": { invariant: true, role: "host", hypervisor: "hyperv", tscHz: null, unstable: null },
  "instlatx64__AuthenticAMD0A60F12_K19_Raphael_01": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  "instlatx64__CentaurHauls00006FA_CNC_Isaiah": { invariant: false, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  "instlatx64__GenuineIntel0000F41_P4_Prescott": { invariant: false, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  "instlatx64__GenuineIntel00106A4_Bloomfield": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  // 0x15 = 2 / 216 / 0, model 0x4e (Skylake-U): 24 MHz crystal × 108 = 2592 MHz
  "instlatx64__GenuineIntel00406E3_Skylake": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 2_592_000_000, unstable: null },
  // 0x15 = 3 / 240 / 0, model 0x5f (Denverton): 25 MHz × 80
  "instlatx64__GenuineIntel00506F1_Denverton": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 2_000_000_000, unstable: null },
  // Hyper-V partition; 0x15 = 2 / 300 / 0 and 0x16 all zero: no frequency can be derived
  "instlatx64__GenuineIntel00A0671_RocketLake": { invariant: true, role: "host", hypervisor: "hyperv", tscHz: null, unstable: null },
  // 0x15 = 2 / 292 / 24 MHz
  "instlatx64__GenuineIntel00A0671_RocketLake_01": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 3_504_000_000, unstable: null },
  "instlatx64__HygonGenuine0900F02_Hygon": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: null, unstable: null },
  // dmesg only: `Refined TSC clocksource calibration: 2400.000 MHz` beats `Detected 2400.113 MHz processor`
  "misc-dmesg__aws-ec2-xen-hvm-e5-2676v3": { invariant: null, role: "guest", hypervisor: "xen", tscHz: 2_400_000_000, unstable: false },
  // `Measured 131240517 cycles TSC warp between CPUs, turning off TSC clock.`
  "misc-dmesg__lenovo-z575-amd-a6-3400m-llano": { invariant: null, role: "unknown", hypervisor: null, tscHz: 1_397_483_000, unstable: true },
  // `kvm_amd: TSC scaling supported`: a KVM host; refined 2400.000 MHz; switched to tsc
  "misc-dmesg__supermicro-h13dsg-epyc-9654": { invariant: null, role: "host", hypervisor: null, tscHz: 2_400_000_000, unstable: false },
  "misc-dmesg__surface-book-i5-6300u-skylake": { invariant: null, role: "unknown", hypervisor: null, tscHz: 2_495_999_000, unstable: false },
  // CPUID 0x80000007 EDX=0x100; dmesg refined 1439.953 MHz; switched to tsc
  "pytorch-cpuinfo__alldocube-iwork8": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 1_439_953_000, unstable: false },
  // no 0x15; only `Detected 1331.200 MHz processor`
  "pytorch-cpuinfo__zenfone-2": { invariant: true, role: "bare-metal", hypervisor: null, tscHz: 1_331_200_000, unstable: false },
  // sysfs only: current clocksource tsc, kvm-clock available, DMI Amazon EC2 r5.large
  "rootfs__aws-ec2-nitro-r5.large": { invariant: null, role: "guest", hypervisor: "kvm", tscHz: null, unstable: false },
  // sysfs only: `tsc` in available_clocksource, /sys/hypervisor/type xen
  "rootfs__aws-ec2-xen-hvm-domU": { invariant: null, role: "guest", hypervisor: "xen", tscHz: null, unstable: null },
  // `tsc: Marking TSC unstable due to running on Hyper-V`; constant_tsc without nonstop_tsc
  "rootfs__hyperv-gen2-vm-xeon-w2155": { invariant: false, role: "guest", hypervisor: "hyperv", tscHz: 3_311_999_000, unstable: true },
  "util-linux-lscpu__i386-dellpe700": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__i386-intels5000phb": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__i386-xenpara": { invariant: false, role: "guest", hypervisor: "xen", tscHz: null, unstable: null },
  // no hypervisor flag, but proc/bus/pci/devices lists VirtualBox's 80ee:beef
  "util-linux-lscpu__vbox-win": { invariant: false, role: "guest", hypervisor: "virtualbox", tscHz: null, unstable: null },
  "util-linux-lscpu__vmware_fpe": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-64cpu-linux6.2": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-dell_e4310": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-dell_poweredge1950": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-dellr710": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-el5xen": { invariant: false, role: "guest", hypervisor: "xen", tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-epyc_7451": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  // constant_tsc without nonstop_tsc (old kernel): not shown invariant
  "util-linux-lscpu__x86_64-hpdl585": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-ibme326m": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-necem14": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "util-linux-lscpu__x86_64-xenfull": { invariant: false, role: "guest", hypervisor: "xen", tscHz: null, unstable: null },
  "virt-what__alibaba-cloud-x86": { invariant: true, role: "guest", hypervisor: "other", tscHz: null, unstable: null },
  "virt-what__aws-baremetal-x86": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "virt-what__aws-kvm-x86": { invariant: true, role: "guest", hypervisor: "other", tscHz: null, unstable: null },
  "virt-what__aws-xen-x86": { invariant: false, role: "guest", hypervisor: "other", tscHz: null, unstable: null },
  "virt-what__baremetal": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "virt-what__esx4.1": { invariant: true, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "virt-what__hyperv": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "virt-what__kvm": { invariant: false, role: "guest", hypervisor: "qemu", tscHz: null, unstable: null },
  "virt-what__kvm-explicit-cpu": { invariant: false, role: "guest", hypervisor: "other", tscHz: null, unstable: null },
  "virt-what__nutanix-ahv": { invariant: false, role: "guest", hypervisor: "other", tscHz: null, unstable: null },
  "virt-what__qemu": { invariant: false, role: "guest", hypervisor: "qemu", tscHz: null, unstable: null },
  "virt-what__rhel5-xen-domU-hvm": { invariant: false, role: "unknown", hypervisor: null, tscHz: null, unstable: null },
  "virt-what__rhel5-xen-domU-pv": { invariant: false, role: "guest", hypervisor: "xen", tscHz: null, unstable: null },
  "virt-what__rhev": { invariant: false, role: "guest", hypervisor: "other", tscHz: null, unstable: null },
};

function probe(machine: string) {
  const c = createClockContainer({ sysroot: machineRoot(machine), env: {} });
  register(c);
  const ranking = c.resolve(ClockSelector).rank();
  return { ranking, report: buildProbeReport(ranking, c.resolve<SystemView>(SYSTEM_VIEW)) };
}

describe.skipIf(!HAVE_FIXTURES)("x86 probing on every x86 fixture machine", () => {
  const machines = fixtureMachines();

  it("the expectation table covers exactly the machines the probe sees as x86", () => {
    const x86 = machines.filter((m) => probe(m).report.x86 !== null);
    expect(x86.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [machine, want] of Object.entries(EXPECTED)) {
    it(`${machine}: invariant TSC, hypervisor, TSC frequency, unstable`, () => {
      const { report, ranking } = probe(machine);
      expect(report.x86).not.toBeNull();
      expect({
        invariant: report.x86?.invariantTsc,
        role: report.virtualization.role,
        hypervisor: report.virtualization.hypervisor,
        tscHz: report.x86?.tscFrequencyHz,
        unstable: report.x86?.tscUnstable,
      }).toEqual(want);
      // Every fact names its source and says how sure it is.
      for (const f of report.facts) {
        expect(f.source.length).toBeGreaterThan(0);
        if (f.confidence === "unknown") expect(f.reason).toBeTruthy();
      }
      // A snapshot's counter cannot be read: the TSC backend is never usable, and says why.
      const tsc = ranking.backends.find((b) => b.id === "x86-tsc");
      expect(tsc?.usable).toBe(false);
      expect(tsc?.reasons.join("; ")).toMatch(/snapshot/);
      if (want.invariant === false) expect(tsc?.reasons.join("; ")).toMatch(/not invariant/);
      if (want.unstable === true) expect(tsc?.reasons.join("; ")).toMatch(/marked the TSC unstable/);
    });
  }

  it("frequency sources: CPUID 0x15 with a crystal is definitive; the Refined log line beats Detected", () => {
    const rl = probe("hwloc__Intel-RaptorLake-Corei7-1370P").report;
    expect(rl.x86?.tscFrequencySource).toMatch(/leaf 0x15 \(definitive\)$/);
    const xen = probe("misc-dmesg__aws-ec2-xen-hvm-e5-2676v3").report;
    expect(xen.x86?.tscFrequencySource).toMatch(/Refined TSC clocksource calibration: 2400\.000 MHz/);
    expect(xen.conflicts.find((c) => c.name === "x86.tsc_frequency_hz")?.overruled.map((f) => f.value)).toEqual([2_400_034_000, 2_400_113_000]);
    const sky = probe("instlatx64__GenuineIntel00406E3_Skylake").report;
    const freqFacts = sky.facts.filter((f) => f.name === "x86.tsc_frequency_hz").map((f) => [f.value, f.confidence]);
    expect(freqFacts).toEqual([[2_592_000_000, "derived"], [2_599_992_000, "heuristic"]]);
  });

  it("cpuinfo without the hypervisor flag is only heuristic evidence of bare metal; CPUID's clear bit is stronger", () => {
    const esx = probe("virt-what__esx4.1").report;
    const present = esx.facts.find((f) => f.name === "virt.hypervisor_present");
    expect(present).toMatchObject({ value: false, confidence: "heuristic" });
    const zen = probe("hwloc__AMD-19h-Zen4-2xEpyc-9654").report;
    expect(zen.facts.find((f) => f.name === "virt.hypervisor_present")).toMatchObject({ value: false, confidence: "derived", source: expect.stringMatching(/ECX\[31\]$/) });
  });
});
