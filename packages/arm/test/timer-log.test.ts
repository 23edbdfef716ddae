import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bannerRateHz, decodeMidr, erratumForLogText, parseTimerLog, schedClockMatchesRate } from "../src/index.js";
import { announceFixtureSkip, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";

announceFixtureSkip();

const one = (line: string) => parseTimerLog(`[    0.000000] ${line}\n`);

describe("arch-timer banner forms", () => {
  it("reads every historical form with its rate and counter", () => {
    const cases: [string, string, number, "virt" | "phys" | null, "virt" | "phys" | null][] = [
      ["arch_timer: cp15 timer running at 24.00MHz (virt).", "cp15", 24_000_000, "virt", null],
      ["arch_timer: cp15 timer(s) running at 24.00MHz (phys).", "cp15", 24_000_000, "phys", null],
      ["arm_arch_timer: Architected cp15 timer(s) running at 62.50MHz (virt).", "cp15", 62_500_000, "virt", null],
      ["Architected cp15 timer(s) running at 19.20MHz (virt).", "cp15", 19_200_000, "virt", null],
      ["Architected cp15 and mmio timer(s) running at 19.20MHz (virt/phys).", "cp15+mmio", 19_200_000, "virt", "phys"],
      ["arch_timer: mmio timer(s) running at 19.20MHz (virt).", "mmio", 19_200_000, null, "virt"],
      ["Architected local timer running at 12.00MHz (virt).", "cp15", 12_000_000, "virt", null],
      ["Architected local timer running at 1.92MHz (phys).", "cp15", 1_920_000, "phys", null],
      ["arch_timer: cp15 timer(s) running at 99.99MHz (phys).", "cp15", 99_990_000, "phys", null],
      ["arch_timer: cp15 timer(s) running at 1000.00MHz (virt).", "cp15", 1_000_000_000, "virt", null],
    ];
    for (const [line, timers, hz, cp15, mmio] of cases) {
      const b = one(line).banners;
      expect(b, line).toHaveLength(1);
      expect([b[0]!.timers, b[0]!.rateHz, b[0]!.cp15Counter, b[0]!.mmioCounter], line).toEqual([timers, hz, cp15, mmio]);
    }
  });

  it("finds the banner behind vendor prefixes", () => {
    for (const line of [
      "[    0.000000]  [0:      swapper/0:    0] Architected cp15 timer(s) running at 26.00MHz (virt).",
      "[    0.000000s][pid:0,cpu0,swapper/0]Architected cp15 timer(s) running at 1.92MHz (virt).",
      "[    0.000000] -(0)[0:swapper/0]Architected cp15 timer(s) running at 13.00MHz (phys).",
      "<6>[    0.000000] arch_timer: cp15 timer(s) running at 24.00MHz (virt).",
    ]) {
      expect(parseTimerLog(line).banners, line).toHaveLength(1);
    }
  });

  it("does not take other timers' lines for the banner", () => {
    expect(one("sched_clock: 32 bits at 1000kHz, resolution 1000ns, wraps every 4294967ms").banners).toEqual([]);
    expect(one("Switching to clocksource stc").banners).toEqual([]);
    expect(one("Architected timer frequency not available").banners).toEqual([]);
  });

  it("parses the MHz figure without floating point", () => {
    expect(bannerRateHz("19", "20")).toBe(19_200_000);
    expect(bannerRateHz("0", "01")).toBe(10_000);
    // 0.29 MHz is 290 kHz exactly (0.29 × 10^6 in floating point is 289999.99…)
    expect(bannerRateHz("0", "29")).toBe(290_000);
    // A corrupt figure too large to be a rate is not a banner, and not a throw.
    expect(bannerRateHz("99999999999", "99")).toBeNull();
    expect(one("arch_timer: cp15 timer(s) running at 99999999999.99MHz (virt).").banners).toEqual([]);
  });
});

describe("other timer lines", () => {
  it("sched_clock in MHz, kHz and Hz, matched against a rate as the kernel rounds or truncates", () => {
    const s = parseTimerLog(["sched_clock: 56 bits at 19MHz, resolution 52ns", "sched_clock: 56 bits at 1920kHz, resolution 520ns", "sched_clock: 32 bits at 100Hz"].join("\n")).schedClocks;
    expect(s.map((x) => [x.bits, x.rate, x.unit])).toEqual([[56, 19, "MHz"], [56, 1920, "kHz"], [32, 100, "Hz"]]);
    expect(schedClockMatchesRate(s[0]!, 19_200_000)).toBe(true);
    expect(schedClockMatchesRate(s[0]!, 19_600_000)).toBe(true); // truncated form
    expect(schedClockMatchesRate(s[0]!, 24_000_000)).toBe(false);
    expect(schedClockMatchesRate(s[1]!, 1_920_000)).toBe(true);
  });

  it("clocksource masks with and without the colon, and their width", () => {
    const m = parseTimerLog(["clocksource: arch_sys_counter: mask: 0xffffffffffffff max_cycles: 0x1", "clocksource arch_sys_counter: mask: 0x1ffffffffffffff max_cycles: 0x1", "clocksource: odd: mask: 0xf0"].join("\n")).masks;
    expect(m.map((x) => [x.clocksource, x.width])).toEqual([["arch_sys_counter", 56], ["arch_sys_counter", 57], ["odd", null]]);
  });

  it("workaround, trapping and erratum lines", () => {
    const log = parseTimerLog(
      [
        "arch_timer: Enabling global workaround for Freescale erratum a005858",
        "arch_timer: Enabling local workaround for ARM erratum 858921",
        "arch_timer: CPU0: Trapping CNTVCT access",
        "CPU features: detected: ARM erratum 1418040",
        "CPU features: enabling workaround for ARM erratum 845719",
      ].join("\n"),
    );
    expect(log.workarounds.map((w) => [w.scope, w.description])).toEqual([["global", "Freescale erratum a005858"], ["local", "ARM erratum 858921"]]);
    expect(erratumForLogText("Freescale erratum a005858")?.id).toBe("fsl-a008585");
    expect(erratumForLogText("HiSilicon erratum 161010101")?.id).toBe("hisilicon-161010101");
    expect(erratumForLogText("Allwinner erratum UNKNOWN1")?.id).toBe("allwinner-unknown1");
    expect(erratumForLogText("ARM erratum 845719")).toBeUndefined();
    expect(log.cntvctTrapping).toHaveLength(1);
    expect(log.errataLines).toHaveLength(4);
  });

  it("boot-CPU MIDR and architecture from each kernel's CPU line", () => {
    const cases: [string, number, "arm64" | "arm" | null][] = [
      ["Booting Linux on physical CPU 0x0000000000 [0x412fd050]", 0x412fd050, "arm64"],
      ["Boot CPU: AArch64 Processor [51af8014]", 0x51af8014, "arm64"],
      ["CPU: AArch64 Processor [410fd034] revision 4", 0x410fd034, "arm64"],
      ["CPU: ARMv7 Processor [410fc0f4] revision 4 (ARMv7), cr=50c5387d", 0x410fc0f4, "arm"],
      ["CPU: NVIDIA Denver 1.0 [4e0f0000] revision 0", 0x4e0f0000, null],
    ];
    for (const [line, midr, arch] of cases) {
      const log = one(line);
      expect(log.bootMidr?.value, line).toBe(midr);
      expect(log.archHint?.arch ?? null, line).toBe(arch);
    }
    expect(decodeMidr(0x412fd050)).toEqual({ implementer: 0x41, variant: 2, architecture: 0xf, part: 0xd05, revision: 0 });
    expect(decodeMidr(0x51af8014)).toMatchObject({ implementer: 0x51, variant: 0xa, part: 0x801, revision: 4 });
  });
});

describe.skipIf(!HAVE_FIXTURES)("captured kernel logs", () => {
  const log = (m: string) => parseTimerLog(readFileSync(join(machineRoot(m), "var/log/dmesg"), "latin1"));

  it("Galaxy S8: cp15 and mmio banner, mask, and the unrelated 845719 workaround", () => {
    const l = log("pytorch-cpuinfo__galaxy-s8-us");
    expect(l.banners.map((b) => [b.line.lineNumber, b.timers, b.rateHz, b.cp15Counter, b.mmioCounter])).toEqual([[134, "cp15+mmio", 19_200_000, "virt", "virt"]]);
    expect(l.masks.find((m) => m.clocksource === "arch_sys_counter")?.width).toBe(56);
    expect(l.workarounds).toEqual([]);
    expect(l.fromBoot).toBe(true);
  });

  it("Raspberry Pi 1: no banner, a 32-bit sched_clock of another timer", () => {
    const l = log("misc-dmesg__raspberrypi1-bcm2708");
    expect(l.banners).toEqual([]);
    expect(l.schedClocks.map((s) => [s.bits, s.rate, s.unit])).toEqual([[32, 1000, "kHz"]]);
    expect(l.clocksourceSwitches.map((s) => s.name)).toEqual(["stc"]);
  });
});
