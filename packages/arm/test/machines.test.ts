/**
 * Every Arm machine of the shared fixtures, probed through the container the
 * CLI uses. The expectations were written by reading each machine's files
 * (cpuinfo, kernel log, sysfs, device-tree property bytes); the comment on
 * each row says what in the files decides it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ClockSelector, createClockContainer, type FactSet } from "@clocksource/core";
import { register, unavailableReader, ArmGenericTimerBackend, ARM_FACT, ARM_CPU_FACT } from "../src/index.js";
import { announceFixtureSkip, fixtureMachines, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";

announceFixtureSkip();

type CpuRow = [implementer: string, part: string, variant: string, revision: number, cpus: string];

interface Expectation {
  readonly arch: "arm64" | "arm" | null;
  readonly genericTimer: boolean | null;
  readonly frequencyHz: number | null;
  /** Regex on the winning frequency fact's source. */
  readonly frequencySource?: RegExp;
  readonly frequencyConfidence?: "definitive" | "derived" | "heuristic";
  readonly widthBits: number | null;
  readonly widthConfidence?: "definitive" | "derived" | "heuristic";
  readonly errata: readonly string[] | null;
  readonly cpuTypes?: readonly CpuRow[];
  readonly kernelTimer?: string;
  readonly kernelCounter?: "virt" | "phys";
}

const EXPECTED: Record<string, Expectation> = {
  // cpuinfo: 128 × impl 0x48 part 0xd01 variant 0x1 rev 0, BogoMIPS 200.00, evtstrm; nothing else.
  "hwloc__128arm-2pa2n8cluster4co": {
    arch: "arm64", genericTimer: true, frequencyHz: 100_000_000, frequencySource: /BogoMIPS 200\.00/, frequencyConfidence: "heuristic",
    widthBits: 57, widthConfidence: "heuristic", errata: [], cpuTypes: [["0x48", "0xd01", "0x1", 0, "0-127"]],
  },
  // Old 32-bit layout: `processor : 0/1` blocks, one identification block: 0x41 0xc09 (Cortex-A9) r2p1.
  "hwloc__2arm-2c": { arch: "arm", genericTimer: false, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xc09", "0x2", 1, "0-1"]] },
  // 20 CPUs: 0xd87 (A725) on 0-4,10-14 and 0xd85 (X925) on 5-9,15-19, r0p1; BogoMIPS 2000.00; `ecv` listed.
  "hwloc__nvidia-dgx-gb10": {
    arch: "arm64", genericTimer: true, frequencyHz: 1_000_000_000, frequencySource: /BogoMIPS 2000\.00/, frequencyConfidence: "heuristic",
    widthBits: 61, widthConfidence: "heuristic", errata: [], cpuTypes: [["0x41", "0xd87", "0x0", 1, "0-4,10-14"], ["0x41", "0xd85", "0x0", 1, "5-9,15-19"]],
  },
  // dmesg:1 boot CPU [0x412fd050]; :71 `arch_timer: cp15 timer(s) running at 24.00MHz (phys).`; :72 mask 0xffffffffffffff.
  "misc-dmesg__orangepi5-rk3588": {
    arch: "arm64", genericTimer: true, frequencyHz: 24_000_000, frequencySource: /dmesg:71 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x41", "0xd05", "0x2", 0, ""]], kernelTimer: "arch_sys_counter", kernelCounter: "phys",
  },
  // dmesg: `CPU: ARMv6-compatible processor [410fb767]`, `sched_clock: 32 bits at 1000kHz`, `Switching to clocksource stc`, no banner.
  "misc-dmesg__raspberrypi1-bcm2708": { arch: "arm", genericTimer: false, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xb76", "0x0", 7, ""]], kernelTimer: "stc" },
  // dmesg:40 `Architected cp15 timer(s) running at 24.00MHz (virt).`; :41 `sched_clock: 56 bits at 24MHz`; boot CPU [410fc0f4].
  "misc-dmesg__xen-arm-domU-arndale-cortex-a15": {
    arch: "arm", genericTimer: true, frequencyHz: 24_000_000, frequencySource: /dmesg:40 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x41", "0xc0f", "0x0", 4, ""]], kernelTimer: "arch_sys_counter", kernelCounter: "virt",
  },
  // cpuinfo: 0xd03 r0p4 on 0-5, 0xd09 (Cortex-A73) r0p2 on 6-7 → ARM erratum 858921; dmesg:116 banner 26.00MHz (virt); :117 mask.
  "pytorch-cpuinfo__galaxy-a8-2018": {
    arch: "arm64", genericTimer: true, frequencyHz: 26_000_000, frequencySource: /dmesg:116 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: ["ARM erratum 858921"], cpuTypes: [["0x41", "0xd03", "0x0", 4, "0-5"], ["0x41", "0xd09", "0x0", 2, "6-7"]],
    kernelTimer: "arch_sys_counter", kernelCounter: "virt",
  },
  // 32-bit cpuinfo only: Cortex-A7 (0xc07) r0p3; no evtstrm; BogoMIPS 994.30 is loop-calibrated. Nothing says whether the kernel uses the timer.
  "pytorch-cpuinfo__galaxy-s5-global": { arch: "arm", genericTimer: null, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xc07", "0x0", 3, "0"]] },
  // cpuinfo: 0x41 0xd03 r0p4 on 0-3 and 0x53 (Samsung) 0x001 r1p1 on 4-5; dmesg:128 banner 26.00MHz (virt); :129 sched_clock 56 bits at 26MHz.
  "pytorch-cpuinfo__galaxy-s7-global": {
    arch: "arm64", genericTimer: true, frequencyHz: 26_000_000, frequencySource: /dmesg:128 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x41", "0xd03", "0x0", 4, "0-3"], ["0x53", "0x001", "0x1", 1, "4-5"]], kernelCounter: "virt",
  },
  // cpuinfo: Qualcomm 0x801 r10p4 on 0-3, 0x800 r10p1 on 4-7; dmesg:134 `cp15 and mmio timer(s) running at 19.20MHz (virt/virt)`; :135 mask.
  "pytorch-cpuinfo__galaxy-s8-us": {
    arch: "arm64", genericTimer: true, frequencyHz: 19_200_000, frequencySource: /dmesg:134 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x51", "0x801", "0xa", 4, "0-3"], ["0x51", "0x800", "0xa", 1, "4-7"]], kernelCounter: "virt",
  },
  // cpuinfo only: 0x41 0xd05 r1p0 on 0-3, 0x48 0xd40 r1p0 on 4-7; BogoMIPS 3.84 → 1.92 MHz.
  "pytorch-cpuinfo__huawei-mate-20": {
    arch: "arm64", genericTimer: true, frequencyHz: 1_920_000, frequencySource: /BogoMIPS 3\.84/, frequencyConfidence: "heuristic",
    widthBits: 56, widthConfidence: "heuristic", errata: [], cpuTypes: [["0x41", "0xd05", "0x1", 0, "0-3"], ["0x48", "0xd40", "0x1", 0, "4-7"]],
  },
  // dmesg:62 `Architected cp15 timer(s) running at 1.92MHz (virt).`; :63 `clocksource arch_sys_counter: mask: 0xffffffffffffff`.
  "pytorch-cpuinfo__huawei-mate-8": {
    arch: "arm64", genericTimer: true, frequencyHz: 1_920_000, frequencySource: /dmesg:62 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x41", "0xd03", "0x0", 4, "0-3"], ["0x41", "0xd08", "0x0", 0, "4-7"]], kernelCounter: "virt",
  },
  // cpuinfo only: 4 × 0xd07 (Cortex-A57) r1p1, BogoMIPS 38.40, no evtstrm.
  "pytorch-cpuinfo__jetson-tx1": {
    arch: "arm64", genericTimer: true, frequencyHz: 19_200_000, frequencySource: /BogoMIPS 38\.40/, frequencyConfidence: "heuristic",
    widthBits: 56, widthConfidence: "heuristic", errata: [], cpuTypes: [["0x41", "0xd07", "0x1", 1, "0-3"]],
  },
  // dmesg:122 `arch_timer_rate(0xc65d40)` (exactly 13,000,000 Hz) before the :128 banner `13.00MHz (phys)`; :129 mask.
  "pytorch-cpuinfo__meizu-pro-7-plus": {
    arch: "arm64", genericTimer: true, frequencyHz: 13_000_000, frequencySource: /dmesg:122 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x41", "0xd04", "0x0", 1, "0"]], kernelCounter: "phys",
  },
  // 32-bit Krait (old layout: `processor : 0..3` blocks, one identification block); the log starts at boot,
  // has no arch-timer lines and switches to gp_timer.
  "pytorch-cpuinfo__nexus4": { arch: "arm", genericTimer: false, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x51", "0x06f", "0x0", 2, "0-3"]], kernelTimer: "gp_timer" },
  // dmesg:94 `Architected local timer running at 12.00MHz (virt).`; :95 `sched_clock: 56 bits at 12MHz`; NVIDIA Denver (0x4e 0x000).
  "pytorch-cpuinfo__nexus9": {
    arch: "arm64", genericTimer: true, frequencyHz: 12_000_000, frequencySource: /dmesg:94 /, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "definitive", errata: [], cpuTypes: [["0x4e", "0x000", "0x0", 0, "0-1"]], kernelTimer: "arch_sys_counter", kernelCounter: "virt",
  },
  // ARM1176 (0xb76), ARMv6: no generic timer. A uniprocessor kernel: no `processor : N` line at all.
  "pytorch-cpuinfo__raspberrypi": { arch: "arm", genericTimer: false, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xb76", "0x0", 7, ""]] },
  // 32-bit kernel on Cortex-A53: `evtstrm` in Features says the arch timer driver runs; BogoMIPS not used on 32-bit.
  "pytorch-cpuinfo__raspberrypi3": { arch: "arm", genericTimer: true, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xd03", "0x0", 4, "0-3"]] },
  // DT /soc/amba/arm-timer: arm,armv8-timer, clock-frequency 01 6e 36 00 = 24 MHz, always-on; midr_el1 0x412fd050.
  "rootfs__hisilicon-hi3519dv500-demo": {
    arch: "arm64", genericTimer: true, frequencyHz: 24_000_000, frequencySource: /arm-timer\/clock-frequency$/, frequencyConfidence: "definitive",
    widthBits: 56, widthConfidence: "derived", errata: [], cpuTypes: [["0x41", "0xd05", "0x2", 0, "0"]], kernelTimer: "arch_sys_counter",
  },
  // available_clocksource and current: arch_mem_counter only.
  "rootfs__jiofi-jmr540-qcom-mdm9207": { arch: null, genericTimer: false, frequencyHz: null, widthBits: null, errata: null, kernelTimer: "arch_mem_counter" },
  // Cortex-A9 ×2; DT has cdns,ttc and arm,cortex-a9-global-timer; clocksource arm_global_timer.
  "rootfs__xilinx-zynq-7000": { arch: "arm", genericTimer: false, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xc09", "0x3", 0, "0-1"]], kernelTimer: "arm_global_timer" },
  // Cortex-A9 ×2; DT timer@00800200 arm,cortex-a9-global-timer; clocksource arm_global_timer.
  "rootfs__zte-zx279128": { arch: "arm", genericTimer: false, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xc09", "0x4", 1, "0-1"]], kernelTimer: "arm_global_timer" },
  // 0xd46 r1p1 on 0-2, 0xd4d r1p0 on 3-4, 0xd47 r2p0 on 5-6, 0xd4e r1p0 on 7; BogoMIPS 38.40.
  "util-linux-lscpu__arm-A510-A710-A715-X3": {
    arch: "arm64", genericTimer: true, frequencyHz: 19_200_000, frequencySource: /BogoMIPS 38\.40/, frequencyConfidence: "heuristic",
    widthBits: 56, widthConfidence: "heuristic", errata: [],
    cpuTypes: [["0x41", "0xd46", "0x1", 1, "0-2"], ["0x41", "0xd4d", "0x1", 0, "3-4"], ["0x41", "0xd47", "0x2", 0, "5-6"], ["0x41", "0xd4e", "0x1", 0, "7"]],
  },
  // Old 32-bit layout, Cortex-A15 (0xc0f) r0p4, two CPUs; no evtstrm, no log, no sysfs.
  "util-linux-lscpu__armv7": { arch: "arm", genericTimer: null, frequencyHz: null, widthBits: null, errata: [], cpuTypes: [["0x41", "0xc0f", "0x0", 4, "0-1"]] },
  // One CPU 0xd08 (Cortex-A72) r0p3; BogoMIPS 166.66 → 83.33 MHz, above 57.1 MHz so 57 bits by the current rule.
  "virt-what__aws-kvm-arm": {
    arch: "arm64", genericTimer: true, frequencyHz: 83_330_000, frequencySource: /BogoMIPS 166\.66/, frequencyConfidence: "heuristic",
    widthBits: 57, widthConfidence: "heuristic", errata: [], cpuTypes: [["0x41", "0xd08", "0x0", 3, "0"]],
  },
};

function probe(machine: string): FactSet {
  const c = createClockContainer({ sysroot: machineRoot(machine), env: {} });
  register(c);
  return c.resolve(ClockSelector).facts();
}

function isArmMachine(machine: string): boolean {
  const root = machineRoot(machine);
  const read = (p: string) => (existsSync(join(root, p)) ? readFileSync(join(root, p), "latin1") : "");
  return /CPU implementer/.test(read("proc/cpuinfo")) || /Booting Linux on physical CPU/.test(read("var/log/dmesg")) || existsSync(join(root, "sys/firmware/devicetree")) || /arch_mem_counter|arch_sys_counter|arm_global_timer/.test(read("sys/devices/system/clocksource/clocksource0/available_clocksource"));
}

describe.skipIf(!HAVE_FIXTURES)("Arm machines of the fixtures", () => {
  it("has an expectation for every Arm machine (and only those)", () => {
    const arm = fixtureMachines().filter(isArmMachine);
    expect(arm.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [machine, e] of Object.entries(EXPECTED)) {
    it(machine, () => {
      const facts = probe(machine);
      expect(facts.value("arch") ?? null, "arch").toBe(e.arch);
      expect(facts.value(ARM_FACT.genericTimer) ?? null, "generic timer").toBe(e.genericTimer);
      const freq = facts.best(ARM_FACT.timerFrequencyHz);
      expect(freq?.value ?? null, "frequency").toBe(e.frequencyHz);
      if (e.frequencySource) expect(freq?.source, "frequency source").toMatch(e.frequencySource);
      if (e.frequencyConfidence) expect(freq?.confidence, "frequency confidence").toBe(e.frequencyConfidence);
      if (e.frequencyHz === null) expect(facts.unknownReasons(ARM_FACT.timerFrequencyHz).join(), "why the frequency is unknown").not.toBe("");
      const width = facts.best(ARM_FACT.counterWidthBits);
      expect(width?.value ?? null, "width").toBe(e.widthBits);
      if (e.widthConfidence) expect(width?.confidence, "width confidence").toBe(e.widthConfidence);
      expect(facts.value(ARM_FACT.errata) ?? null, "errata").toEqual(e.errata);
      if (e.cpuTypes) {
        const types = facts.value(ARM_CPU_FACT.cpuTypes) as { implementer: string; part: string; variant: string; revision: number; cpus: string }[];
        expect(types.map((t) => [t.implementer, t.part, t.variant, t.revision, t.cpus]), "CPU types").toEqual(e.cpuTypes);
      }
      if (e.kernelTimer) expect((facts.value(ARM_FACT.kernelTimer) as { name: string } | undefined)?.name, "kernel timer").toBe(e.kernelTimer);
      if (e.kernelCounter) expect(facts.value(ARM_FACT.kernelCounter), "kernel counter").toBe(e.kernelCounter);
    });
  }

  it("never uses BogoMIPS on 32-bit Arm, and says why", () => {
    const facts = probe("pytorch-cpuinfo__galaxy-s5-global");
    expect(facts.named(ARM_FACT.timerFrequencyHz).every((f) => f.confidence === "unknown")).toBe(true);
    expect(facts.unknownReasons(ARM_FACT.timerFrequencyHz).join()).toMatch(/BogoMIPS 994\.30 not used: on 32-bit Arm it is loop-calibrated/);
  });

  it("reports the board timers of machines without a generic timer by kind", () => {
    expect(probe("rootfs__jiofi-jmr540-qcom-mdm9207").value(ARM_FACT.kernelTimer)).toEqual({ name: "arch_mem_counter", kind: "generic-timer-mmio" });
    expect(probe("rootfs__zte-zx279128").value(ARM_FACT.kernelTimer)).toEqual({ name: "arm_global_timer", kind: "cortex-a9-global-timer" });
    expect(probe("pytorch-cpuinfo__nexus4").value(ARM_FACT.kernelTimer)).toEqual({ name: "gp_timer", kind: "vendor-timer" });
  });

  it("keeps the banner as the kernel's word when BogoMIPS agrees, and lists both sources", () => {
    const f = probe("pytorch-cpuinfo__galaxy-s8-us").named(ARM_FACT.timerFrequencyHz);
    expect(f.map((x) => [x.value, x.confidence])).toEqual([[19_200_000, "definitive"], [19_200_000, "heuristic"]]);
  });

  it("says what the HiSilicon board's device tree says about idle and suspend", () => {
    const facts = probe("rootfs__hisilicon-hi3519dv500-demo");
    expect(facts.value(ARM_FACT.alwaysOn)).toBe(true);
    expect(facts.value(ARM_FACT.noTickInSuspend)).toBe(false);
    expect(facts.value(ARM_FACT.dtTimerNode)).toMatchObject({ path: "/soc/amba/arm-timer", enabled: true });
  });

  it("FEAT_ECV and the event stream from Features", () => {
    const gb10 = probe("hwloc__nvidia-dgx-gb10");
    expect(gb10.best(ARM_FACT.ecv)).toMatchObject({ value: true, confidence: "definitive" });
    expect(gb10.value(ARM_FACT.evtstrm)).toBe(true);
    const tx1 = probe("pytorch-cpuinfo__jetson-tx1");
    expect(tx1.best(ARM_FACT.ecv)).toMatchObject({ value: false, confidence: "heuristic" });
    expect(tx1.value(ARM_FACT.evtstrm)).toBe(false);
  });

  it("the generic-timer backend is unusable on every snapshot here, with reasons", () => {
    for (const machine of ["misc-dmesg__orangepi5-rk3588", "hwloc__2arm-2c"]) {
      const c = createClockContainer({ sysroot: machineRoot(machine), env: {} });
      register(c);
      const b = c.resolve(ClockSelector).rank().backends.find((x) => x.id === "arm-generic-timer");
      expect(b?.usable, machine).toBe(false);
      expect(b?.reasons.join(" / ")).toMatch(/native reader unavailable: /);
    }
    // With a reader that works, a snapshot still cannot be read: the probe did not read this machine's counter.
    const facts = probe("misc-dmesg__orangepi5-rk3588");
    const working = { unavailable: null, readCntvct: () => 1n, readCntfrq: () => 24_000_000n };
    const v = new ArmGenericTimerBackend(working).assess({ facts, policy: {} });
    expect(v.usable).toBe(false);
    expect(v.reasons.join()).toMatch(/a snapshot: CNTVCT_EL0 can be read only on the machine itself/);
    expect(new ArmGenericTimerBackend(unavailableReader("x")).assess({ facts, policy: {} }).usable).toBe(false);
  });
});
