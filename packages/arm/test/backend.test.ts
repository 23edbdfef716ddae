import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClockSelector, createClockContainer, fact, FactSet, nanosecondScale, RATING, scaleTicksReference, type Fact } from "@clocksource/core";
import { ARM_FACT, ARM_RATING, ArmGenericTimerBackend, armCounterReaderFrom, defaultArmCounterReader, register, type ArmCounterReader } from "../src/index.js";

const policy = {};

/** Facts as the probes leave them on a live arm64 machine whose counter they read. */
function arm64Facts(extra: Fact[] = [], frequency: Fact = fact(ARM_FACT.timerFrequencyHz, 24_000_000, "CNTFRQ_EL0 (native reader)", "definitive")): FactSet {
  return new FactSet([
    fact("arch", "arm64", "uname -m = aarch64", "definitive"),
    fact(ARM_FACT.genericTimer, true, "test", "derived"),
    fact(ARM_FACT.counterReadable, true, "native reader (mrs cntvct_el0)", "definitive", "read CNTVCT_EL0 = 5"),
    fact(ARM_FACT.counterWidthBits, 56, "test", "derived"),
    frequency,
    ...extra,
  ]);
}

const bareMetal = fact("virt.hypervisor_present", false, "test", "derived");
const kvmGuest = fact("virt.hypervisor", "kvm", "test", "derived");

function counter(start = 100n, step = 3n): ArmCounterReader & { reads: () => number } {
  let v = start;
  let n = 0;
  return { unavailable: null, readCntvct: () => (n++, (v += step)), readCntfrq: () => 24_000_000n, reads: () => n };
}

const notArm64 = process.arch !== "arm64";

describe("off arm64 (any other architecture)", () => {
  // The arm64 path is exercised by the qemu-user check and on arm64 hosts.
  it.skipIf(!notArm64)("the default reader explains why it cannot read CNTVCT_EL0", () => {
    const r = defaultArmCounterReader();
    expect(r.unavailable).toBe(`it reads CNTVCT_EL0 only on arm64, and this process runs on ${process.arch}`);
    expect(() => r.readCntvct()).toThrow(/only on arm64/);
  });

  it.skipIf(!notArm64)("the backend is unusable with honest reasons and the selector moves on", () => {
    const c = createClockContainer({ sysroot: "/", env: {} });
    register(c);
    const ranking = c.resolve(ClockSelector).rank();
    const arm = ranking.backends.find((b) => b.id === "arm-generic-timer");
    expect(arm?.usable).toBe(false);
    expect(arm?.reasons).toEqual([
      expect.stringMatching(/^not (an arm64 machine \(arch (?!arm64 )\S+ from .+\)|known to be an arm64 machine \(architecture unknown\))$/),
      `native reader unavailable: it reads CNTVCT_EL0 only on arm64, and this process runs on ${process.arch}`,
    ]);
    expect(ranking.selected?.id).not.toBe("arm-generic-timer");
  });
});

describe("armCounterReaderFrom (what loadNativeReader gave)", () => {
  it("an arm64 process without the addon's cntvct path says so, in the loader's words", () => {
    expect(armCounterReaderFrom({ ok: false, reason: "the addon was not built" }, "arm64").unavailable).toBe("the addon was not built");
    const x86Build = { counter: "tsc" as const, noop() {}, readCounterPair() {}, setSink() {} };
    expect(armCounterReaderFrom({ ok: true, native: x86Build, counterReader: () => null }, "arm64").unavailable).toMatch(/no cntvct_el0 path \(it was built for counter "tsc"\)/);
    expect(armCounterReaderFrom({ ok: false, reason: "@clocksource/native is not installed (Cannot find package)" }, "arm64").unavailable).toBe("@clocksource/native is not installed (Cannot find package)");
    // The architecture is checked first: off arm64 even a working addon cannot read CNTVCT_EL0.
    expect(armCounterReaderFrom({ ok: false, reason: "x" }, "x64").unavailable).toMatch(/only on arm64, and this process runs on x64/);
  });

  it("an arm64 build reads through the fast sink path when there is one, else cntvct", () => {
    const arm64Build = { counter: "cntvct" as const, noop() {}, readCounterPair() {}, setSink() {}, cntvct: () => 7n, cntfrq: () => 24_000_000n };
    const slow = armCounterReaderFrom({ ok: true, native: arm64Build, counterReader: () => null }, "arm64");
    expect(slow.unavailable).toBeNull();
    expect(slow.readCntvct()).toBe(7n);
    expect(slow.readCntfrq()).toBe(24_000_000n);
    const fast = armCounterReaderFrom({ ok: true, native: arm64Build, counterReader: () => () => 9n }, "arm64");
    expect(fast.readCntvct()).toBe(9n);
  });
});

describe("the verdict on an arm64 machine (facts as the probes give them)", () => {
  it("bare metal: exact mapping, top of its band", () => {
    const v = new ArmGenericTimerBackend(counter()).assess({ facts: arm64Facts([bareMetal]), policy });
    expect(v).toMatchObject({ usable: true, mapping: "exact", rating: ARM_RATING.exact });
    expect(ARM_RATING.exact).toBeGreaterThanOrEqual(RATING.exactHardware);
  });

  it("a KVM guest: estimated mapping (the offset is the VMM's) and says how to make it exact", () => {
    const v = new ArmGenericTimerBackend(counter()).assess({ facts: arm64Facts([kvmGuest]), policy });
    expect(v).toMatchObject({ usable: true, mapping: "estimated", rating: ARM_RATING.estimated });
    expect(v.reasons.join()).toMatch(/arm-cntvoff mapping file/);
    expect(ARM_RATING.estimated).toBeLessThan(RATING.exactHardware);
    expect(ARM_RATING.estimated).toBeGreaterThan(RATING.paravirtual);
  });

  it("a counter erratum that traps or corrupts user reads lowers the rating and says why", () => {
    const e = fact(`${ARM_FACT.erratumPrefix}arm-858921`, { name: "ARM erratum 858921" }, "proc/cpuinfo", "derived");
    const v = new ArmGenericTimerBackend(counter()).assess({ facts: arm64Facts([bareMetal, e]), policy });
    expect(v.rating).toBe(ARM_RATING.exact - ARM_RATING.erratumPenalty);
    expect(v.reasons.join()).toMatch(/ARM erratum 858921 affects counter reads/);
    // 1418040 touches only the 32-bit compat vDSO: no penalty.
    const compat = fact(`${ARM_FACT.erratumPrefix}arm-1418040`, { name: "ARM erratum 1418040" }, "dmesg", "definitive");
    expect(new ArmGenericTimerBackend(counter()).assess({ facts: arm64Facts([bareMetal, compat]), policy }).rating).toBe(ARM_RATING.exact);
  });

  it("a BogoMIPS-only frequency lowers the rating", () => {
    const bogo = fact(ARM_FACT.timerFrequencyHz, 19_200_000, "proc/cpuinfo (BogoMIPS 38.40)", "heuristic");
    const v = new ArmGenericTimerBackend(counter()).assess({ facts: arm64Facts([bareMetal], bogo), policy });
    expect(v.rating).toBe(ARM_RATING.exact - ARM_RATING.heuristicFrequencyPenalty);
  });

  it("unusable when the counter was not read, the frequency is unknown or no generic timer is in use", () => {
    const facts = new FactSet([fact("arch", "arm64", "uname -m = aarch64", "definitive"), fact(ARM_FACT.genericTimer, false, "available_clocksource", "derived", "no arch_sys_counter")]);
    const v = new ArmGenericTimerBackend(counter()).assess({ facts, policy });
    expect(v.usable).toBe(false);
    expect(v.reasons).toEqual([
      expect.stringMatching(/^the counter was not read on this machine/),
      expect.stringMatching(/^no architected generic timer in use/),
      expect.stringMatching(/^timer frequency unknown/),
    ]);
  });
});

describe("the clock source", () => {
  it("reads CNTVCT through the reader and converts ticks → ns with the kernel's mult/shift, exactly", () => {
    const r = counter();
    const src = new ArmGenericTimerBackend(r).create({ facts: arm64Facts([bareMetal]), policy });
    expect(src).toMatchObject({ id: "arm-generic-timer", frequencyHz: 24_000_000, widthBits: 56, domain: { name: "host.cntpct", frequencyHz: 24_000_000, widthBits: 56 } });
    expect(src.now()).toBe(103n);
    expect(src.now()).toBe(106n);
    const scale = nanosecondScale(24_000_000);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (t) => {
        expect(src.toNanoseconds(t)).toBe(scaleTicksReference(t, scale));
      }),
    );
    // One second of ticks is one second, to the nanosecond.
    expect(src.toNanoseconds(24_000_000n)).toBe(1_000_000_000n);
  });

  it("the domain is guest.cntvct only for a known guest: host.cntpct when the role is unknown (as x86-tsc and os-monotonic)", () => {
    const unknownRole = new ArmGenericTimerBackend(counter());
    const facts = arm64Facts();
    expect(unknownRole.assess({ facts, policy }).mapping).toBe("estimated");
    expect(unknownRole.create({ facts, policy }).domain.name).toBe("host.cntpct");
  });

  it("in a guest the domain is guest.cntvct; at 1 GHz ticks are nanoseconds", () => {
    const src = new ArmGenericTimerBackend(counter()).create({ facts: arm64Facts([kvmGuest], fact(ARM_FACT.timerFrequencyHz, 1_000_000_000, "CNTFRQ_EL0", "definitive")), policy });
    expect(src.domain.name).toBe("guest.cntvct");
    expect(src.toNanoseconds(123_456_789_012n)).toBe(123_456_789_012n);
  });

  it("applies the erratum's read rule (858921: two reads per timestamp)", () => {
    const r = counter();
    const e = fact(`${ARM_FACT.erratumPrefix}arm-858921`, { name: "ARM erratum 858921" }, "proc/cpuinfo", "derived");
    const src = new ArmGenericTimerBackend(r).create({ facts: arm64Facts([bareMetal, e]), policy });
    src.now();
    expect(r.reads()).toBe(2);
  });
});
