import { describe, expect, it } from "vitest";
import { ArchProbe, DirectorySystemView, fact, FactSet, KernelClocksourceProbe, type CapabilityProbe } from "@clocksource/core";
import { ARM_FACT, ArmCpuProbe, ArmTimerProbe, unavailableReader, type ArmCounterReader } from "../src/index.js";
import { announceFixtureSkip, HAVE_FIXTURES } from "../../../test/support/fixtures.js";
import { gtdt } from "./support/gtdt.js";
import { rootWithTimerFrom, tempRoot, writeFiles } from "./support/trees.js";

announceFixtureSkip();

/** Runs the core's arch/clocksource probes (or a stated arch) and then this package's probes. */
function run(view: DirectorySystemView, opts: { reader?: ArmCounterReader; arch?: string } = {}): FactSet {
  const facts = new FactSet();
  const core: CapabilityProbe[] = opts.arch ? [new KernelClocksourceProbe()] : [new ArchProbe(), new KernelClocksourceProbe()];
  // A live view's ArchProbe would report this x86 build machine; tests of the live path state the arch instead.
  if (opts.arch) facts.add(fact("arch", opts.arch, "stated by the test (uname -m on an arm64 machine)", "definitive"));
  for (const p of [...core, new ArmCpuProbe(), new ArmTimerProbe(opts.reader ?? unavailableReader("no reader in this test"))]) facts.add(...p.probe(view, facts));
  return facts;
}

/** A reader standing in for the addon on an arm64 machine: a counter that advances by `step` per read. */
function fakeArm64Reader(cntfrq: bigint | null, start = 1_000_000n, step = 7n): ArmCounterReader {
  let v = start;
  return { unavailable: null, readCntvct: () => (v += step), readCntfrq: () => cntfrq };
}

describe.skipIf(!HAVE_FIXTURES)("probing trees built from kernel device-tree sources", () => {
  it("LS1043A: the DT erratum lands in arm.errata with its source", () => {
    const { view } = rootWithTimerFrom("arm64__freescale__fsl-ls1043a.dtsi", "arm,armv8-timer");
    const facts = run(view);
    expect(facts.best(ARM_FACT.genericTimer)).toMatchObject({ value: true, confidence: "definitive" });
    expect(facts.best(ARM_FACT.errata)).toMatchObject({ value: ["Freescale erratum A-008585"], confidence: "definitive", source: expect.stringMatching(/timer\/fsl,erratum-a008585$/) });
    expect(facts.value(`${ARM_FACT.erratumPrefix}fsl-a008585`)).toMatchObject({ affectsUserReads: true });
    // No frequency source in a bare tree: unknown, with every reason.
    expect(facts.value(ARM_FACT.timerFrequencyHz)).toBeUndefined();
    expect(facts.unknownReasons(ARM_FACT.timerFrequencyHz).join()).toMatch(/has no clock-frequency.*var\/log\/dmesg: not present/);
  });

  it("A64: erratum UNKNOWN1 and no-tick-in-suspend", () => {
    const facts = run(rootWithTimerFrom("arm64__allwinner__sun50i-a64.dtsi", "arm,armv8-timer").view);
    expect(facts.value(ARM_FACT.errata)).toEqual(["Allwinner erratum UNKNOWN1"]);
    expect(facts.value(ARM_FACT.noTickInSuspend)).toBe(true);
    expect(facts.value(ARM_FACT.alwaysOn)).toBe(false);
  });

  it("i.MX8MM on a live arm64 machine: the 8 MHz clock-frequency overrides CNTFRQ, and the conflict shows", () => {
    const { root } = rootWithTimerFrom("arm64__freescale__imx8mm.dtsi", "arm,armv8-timer");
    writeFiles(root, { "var/log/dmesg": "" });
    const facts = run(new DirectorySystemView(root, true), { arch: "arm64", reader: fakeArm64Reader(24_000_000n) });
    expect(facts.best(ARM_FACT.timerFrequencyHz)).toMatchObject({ value: 8_000_000, confidence: "definitive", source: expect.stringMatching(/timer\/clock-frequency$/) });
    expect(facts.named(ARM_FACT.timerFrequencyHz).map((f) => [f.value, f.source])).toEqual([
      [8_000_000, expect.stringMatching(/clock-frequency$/)],
      [24_000_000, "CNTFRQ_EL0 (native reader)"],
    ]);
    expect(facts.conflicts().map((c) => c.name)).toContain(ARM_FACT.timerFrequencyHz);
    expect(facts.best(ARM_FACT.counterWidthBits)).toMatchObject({ value: 56, confidence: "derived" });
    expect(facts.best(ARM_FACT.counterReadable)).toMatchObject({ value: true, reason: expect.stringMatching(/^read CNTVCT_EL0 = \d+/) });
  });

  it("APM X-Gene: 50 MHz from the tree", () => {
    expect(run(rootWithTimerFrom("arm64__apm__apm-storm.dtsi", "arm,armv8-timer").view).value(ARM_FACT.timerFrequencyHz)).toBe(50_000_000);
  });

  it("BCM2837: arm,armv7-timer, always-on", () => {
    const facts = run(rootWithTimerFrom("arm__broadcom__bcm2837.dtsi", "arm,armv7-timer").view);
    expect(facts.value(ARM_FACT.genericTimer)).toBe(true);
    expect(facts.value(ARM_FACT.alwaysOn)).toBe(true);
    expect(facts.value(ARM_FACT.dtTimerNode)).toMatchObject({ compatible: ["arm,armv7-timer"] });
  });
});

describe("ACPI and live-only sources", () => {
  it("an ACPI server: GTDT present, HiSilicon HIP07 identity → erratum 161010101, always-on from its flags", () => {
    const root = tempRoot();
    writeFiles(root, { "sys/firmware/acpi/tables/GTDT": gtdt("HISI", "HIP07", 0, 4, 4), "var/log/dmesg": "" });
    const facts = run(new DirectorySystemView(root, false));
    expect(facts.best(ARM_FACT.acpiGtdt)).toMatchObject({ value: true, reason: 'OEM "HISI  " table "HIP07   " revision 0' });
    expect(facts.best(ARM_FACT.genericTimer)).toMatchObject({ value: true, source: "sys/firmware/acpi/tables/GTDT" });
    expect(facts.value(ARM_FACT.errata)).toEqual(["HiSilicon erratum 161010101"]);
    expect(facts.value(ARM_FACT.alwaysOn)).toBe(true);
  });

  it("a GTDT that exists but cannot be parsed still says the timer is there", () => {
    const root = tempRoot();
    writeFiles(root, { "sys/firmware/acpi/tables/GTDT": "not a table" });
    const facts = run(new DirectorySystemView(root, false));
    expect(facts.best(ARM_FACT.acpiGtdt)).toMatchObject({ value: true, reason: expect.stringMatching(/^malformed: 11 bytes/) });
  });

  it("live arm64 with CNTFRQ only: 1 GHz exact, width by the rule", () => {
    const root = tempRoot();
    writeFiles(root, { "var/log/dmesg": "" });
    const facts = run(new DirectorySystemView(root, true), { arch: "arm64", reader: fakeArm64Reader(1_000_000_000n) });
    expect(facts.best(ARM_FACT.timerFrequencyHz)).toMatchObject({ value: 1_000_000_000, confidence: "definitive", source: "CNTFRQ_EL0 (native reader)" });
    // 61 bits by the current rule, but kernels without the 2021 change assume 56: heuristic.
    expect(facts.best(ARM_FACT.counterWidthBits)).toMatchObject({ value: 61, confidence: "heuristic" });
  });

  it("a live reader that fails is reported, not thrown", () => {
    const root = tempRoot();
    writeFiles(root, { "var/log/dmesg": "" });
    const broken: ArmCounterReader = { unavailable: null, readCntvct: () => { throw new Error("SIGILL-like failure"); }, readCntfrq: () => null };
    const facts = run(new DirectorySystemView(root, true), { arch: "arm64", reader: broken });
    expect(facts.best(ARM_FACT.counterReadable)).toMatchObject({ value: false, reason: "reading CNTVCT_EL0 failed: SIGILL-like failure" });
  });
});

describe("malformed input never throws", () => {
  it("garbage cpuinfo, log and tree give unknown facts with reasons", () => {
    const root = tempRoot();
    writeFiles(root, {
      "proc/cpuinfo": "processor : 0\nCPU implementer : banana\nCPU part : 0xd03\nCPU variant : 0x0\nCPU revision : 0\nFeatures : fp asimd\nBogoMIPS : lots\n",
      "var/log/dmesg": "\u0000\u0001 arch_timer: cp15 timer(s) running at MHz\n",
      "sys/firmware/devicetree/base/timer/compatible": new Uint8Array([0x61, 0x72, 0x6d]),
    });
    const facts = run(new DirectorySystemView(root, false));
    expect(facts.value("arch")).toBe("arm64");
    expect(facts.unknownReasons("arm.cpu_types").join()).toMatch(/malformed CPU identification/);
    expect(facts.value(ARM_FACT.timerFrequencyHz)).toBeUndefined();
    expect(facts.unknownReasons(ARM_FACT.timerFrequencyHz).join()).toMatch(/BogoMIPS "lots" is not a positive number/);
    expect(facts.value("arm.dt_problems")).toEqual([expect.stringMatching(/timer\/compatible: not NUL-terminated/)]);
    for (const f of facts.all()) expect(f.confidence === "unknown" ? typeof f.reason : "ok").not.toBe("undefined");
  });

  it("says nothing on a machine known to be x86", () => {
    const root = tempRoot();
    writeFiles(root, { "proc/cpuinfo": "processor : 0\nvendor_id : GenuineIntel\nflags : fpu lm tsc\n" });
    const facts = run(new DirectorySystemView(root, false));
    expect(facts.all().filter((f) => f.name.startsWith("arm."))).toEqual([]);
  });
});
