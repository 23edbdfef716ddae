import { createClockContainer, ClockSelector, DirectorySystemView, fact, FactSet, nanosecondConverter, unknownFact, type BackendContext } from "@clocksource/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { frequencyFromPairs, mhzToHz, nativeReader, register, X86TscBackend, TscReaderProbe, X86_FACT, kernelLogTscFacts, cpuinfoTscFacts, type NativeReader } from "../src/index.js";

const ctx = (facts: FactSet): BackendContext => ({ facts, policy: {} });
const base = () =>
  new FactSet([
    fact("arch", "x86_64", "uname -m", "definitive"),
    fact("x86.invariant_tsc", true, "dev/cpu/0/cpuid leaf 0x80000007 EDX[8]", "definitive"),
    fact("x86.tsc_frequency_hz", 2_400_000_000, "dev/cpu/0/cpuid leaf 0x15", "definitive"),
    fact("x86.tsc_unstable", false, "dmesg:1", "derived"),
    fact(X86_FACT.tscReadable, true, "@clocksource/native rdtsc", "definitive"),
  ]);

describe("x86-tsc backend verdicts", () => {
  const b = new X86TscBackend();

  it("bare metal: exact-hardware band, exact mapping (the TSC is the host time base)", () => {
    const f = base();
    f.add(fact("virt.hypervisor_present", false, "cpuid ECX[31]", "derived"));
    expect(b.assess(ctx(f))).toMatchObject({ usable: true, rating: 400, mapping: "exact" });
  });

  it("KVM guest: exact mapping via the host's KVM parameters, rated just below the host's own TSC", () => {
    const f = base();
    f.add(fact("virt.hypervisor", "kvm", "cpuid 0x40000000", "definitive"));
    const v = b.assess(ctx(f));
    expect(v).toMatchObject({ usable: true, rating: 390, mapping: "exact" });
    expect(v.reasons.join(" ")).toMatch(/kvm-mapping/);
  });

  it("other hypervisors: estimated band; weaker evidence lowers the rating inside the band", () => {
    const f = base();
    f.add(fact("virt.hypervisor", "hyperv", "cpuid 0x40000000", "definitive"));
    expect(b.assess(ctx(f))).toMatchObject({ usable: true, rating: 300, mapping: "estimated" });
    const weak = new FactSet(base().all().map((x) => (x.name === "x86.invariant_tsc" ? fact(x.name, true, "proc/cpuinfo flags", "derived") : x.name === "x86.tsc_frequency_hz" ? fact(x.name, 2.4e9, "dmesg", "heuristic") : x)));
    weak.add(fact("virt.hypervisor_present", false, "cpuid", "derived"));
    expect(b.assess(ctx(weak)).rating).toBe(390);
  });

  it("says why it is not usable", () => {
    const cases: [(f: FactSet) => void, RegExp][] = [
      [(f) => f.add(fact("x86.invariant_tsc", false, "cpuid 0x80000007", "definitive", "bit clear")), /TSC not invariant \(cpuid 0x80000007, definitive: bit clear\)/],
      [(f) => f.add(fact("x86.tsc_unstable", true, "dmesg:9 \"Marking TSC unstable due to clocksource watchdog\"", "definitive")), /the kernel marked the TSC unstable/],
      [(f) => f.add(fact(X86_FACT.tscReadable, false, "@clocksource/native", "definitive", "native reader unavailable: the addon was not built")), /native reader unavailable: the addon was not built/],
    ];
    for (const [mutate, re] of cases) {
      // Among equally strong facts the first learned wins: the contradicting fact goes first.
      const m = new FactSet();
      mutate(m);
      const merged = new FactSet([...m.all(), ...base().all()]);
      const v = b.assess(ctx(merged));
      expect(v.usable).toBe(false);
      expect(v.reasons.join("; ")).toMatch(re);
    }
    const noFreq = new FactSet(base().all().filter((x) => x.name !== "x86.tsc_frequency_hz"));
    noFreq.add(unknownFact("x86.tsc_frequency_hz", "dev/cpu/0/cpuid leaf 0x15", "no crystal"));
    expect(b.assess(ctx(noFreq)).reasons.join()).toMatch(/TSC frequency unknown: dev\/cpu\/0\/cpuid leaf 0x15: no crystal/);
    expect(b.assess(ctx(new FactSet([fact("arch", "arm64", "uname -m", "definitive")]))).reasons).toEqual(["not an x86 machine (arch: arm64)"]);
  });
});

describe("the TSC reader probe reads the TSC before claiming it readable", () => {
  const live = new DirectorySystemView("/", true);
  const x86 = () => new FactSet([fact("arch", "x86_64", "uname -m", "definitive"), fact("x86.tsc_frequency_hz", 2_400_000_000, "dev/cpu/0/cpuid leaf 0x15", "definitive")]);
  const binding = (rdtsc: () => bigint) => ({ counter: "tsc" as const, noop() {}, rdtsc, readCounterPair() {}, setSink() {} });
  const probeWith = (reader: NativeReader) => new TscReaderProbe(reader).probe(live, x86()).filter((f) => f.name === X86_FACT.tscReadable);

  it("a read that fails is not readable, with the error", () => {
    const failing = binding(() => {
      throw Object.assign(new Error("operation not permitted"), { code: "EPERM" });
    });
    expect(probeWith({ ok: true, native: failing, counterReader: () => null })).toEqual([
      expect.objectContaining({ value: false, confidence: "definitive", reason: "reading the TSC failed: permission denied (needs root?)" }),
    ]);
  });

  it("a read that works is readable, with the value read (and no calibration when CPUID gave the frequency)", () => {
    let reads = 0;
    const facts = new TscReaderProbe({ ok: true, native: binding(() => (reads++, 123_456n)), counterReader: () => null }).probe(live, x86());
    expect(facts).toEqual([expect.objectContaining({ name: X86_FACT.tscReadable, value: true, confidence: "definitive", reason: "read TSC = 123456" })]);
    expect(reads).toBe(1);
  });

  it("no reader, or one for another counter: not readable, saying why", () => {
    expect(probeWith({ ok: false, reason: "the addon was not built" })).toEqual([expect.objectContaining({ value: false, reason: "native reader unavailable: the addon was not built" })]);
    const arm = { counter: "cntvct" as const, noop() {}, readCounterPair() {}, setSink() {} };
    expect(probeWith({ ok: true, native: arm, counterReader: () => null })).toEqual([expect.objectContaining({ value: false, reason: expect.stringMatching(/reads cntvct, not the TSC/) })]);
  });
});

describe("kernel log and cpuinfo rules", () => {
  it("MHz as printed (%lu.%03lu) becomes Hz exactly", () => {
    expect(mhzToHz("2400.113")).toBe(2_400_113_000);
    expect(mhzToHz("1.92")).toBe(1_920_000);
    expect(mhzToHz("abc")).toBeUndefined();
    // exact where a float is not: 0.29 MHz × 10^6 is 289999.99… in binary floating point
    expect(mhzToHz("0.29")).toBe(290_000);
    // finer than 1 Hz is not a kernel figure
    expect(mhzToHz("2400.1234567")).toBeUndefined();
  });

  it("recognises the TSC messages old and new kernels print", () => {
    const log = [
      "[    0.000000] tsc: Fast TSC calibration using PIT",
      "[    0.000000] tsc: Detected 2893.202 MHz processor",
      "[    0.000000] TSC freq read from hypervisor : 2893.204 MHz",
      "[    1.500000] clocksource: Switched to clocksource tsc-early",
      "[    2.100000] clocksource: timekeeping watchdog on CPU3: Marking clocksource 'tsc' as unstable because the skew is too large:",
    ].join("\n");
    const facts = kernelLogTscFacts(log, "dmesg", new FactSet());
    expect(facts.map((f) => [f.name, f.value, f.confidence])).toEqual([
      ["x86.tsc_frequency_hz", 2_893_204_000, "derived"],
      ["x86.tsc_frequency_hz", 2_893_202_000, "heuristic"],
      ["x86.tsc_unstable", true, "definitive"],
    ]);
    expect(facts[2]?.source).toBe("dmesg:5 \"clocksource: timekeeping watchdog on CPU3: Marking clocksource 'tsc' as unstable because the skew is too large:\"");
  });

  it("trusts the kernel's 'Detected … MHz processor' as derived only when tsc_known_freq says it did not calibrate", () => {
    const log = "[    0.000000] tsc: Detected 2599.998 MHz processor\n";
    const known = new FactSet([fact("x86.tsc_known_freq", true, "proc/cpuinfo flags tsc_known_freq", "definitive")]);
    expect(kernelLogTscFacts(log, "dmesg", known)[0]).toMatchObject({ value: 2_599_998_000, confidence: "derived", reason: expect.stringMatching(/tsc_known_freq/) });
    expect(kernelLogTscFacts(log, "dmesg", new FactSet())[0]).toMatchObject({ confidence: "heuristic" });
  });

  it("cpuinfo: constant_tsc alone is not invariant; no hypervisor flag is only heuristic", () => {
    const f = cpuinfoTscFacts("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu tsc constant_tsc rdtscp\n", "proc/cpuinfo");
    expect(f.find((x) => x.name === "x86.invariant_tsc")).toMatchObject({ value: false, confidence: "heuristic" });
    expect(f.find((x) => x.name === "virt.hypervisor_present")).toMatchObject({ value: false, confidence: "heuristic" });
    expect(cpuinfoTscFacts("processor : 0\nFeatures : fp asimd\n", "proc/cpuinfo")).toEqual([]);
  });
});

describe("TSC calibration arithmetic", () => {
  it("uses the narrowest brackets and states the uncertainty they imply", () => {
    const start = [
      { before: 1000n, rawNs: 500n, after: 1400n },
      { before: 2000n, rawNs: 900n, after: 2010n },
    ];
    const end = [{ before: 2_400_002_000n, rawNs: 1_000_000_900n, after: 2_400_002_020n }];
    const m = frequencyFromPairs(start, end);
    // Δ midpoints = 2_400_002_010 − 2005 = 2_400_000_005 over Δns = 1e9
    expect(m.hz).toBeCloseTo(2_400_000_005, 0);
    expect(m.bracketTicks).toEqual([10, 20]);
    expect(m.uncertaintyHz).toBeCloseTo(15 + 4.8, 1);
    expect(() => frequencyFromPairs([], end)).toThrow();
  });
});

const reader = nativeReader();
const live = reader.ok && reader.native.counter === "tsc";
if (!live) console.warn(`skipping live x86-tsc tests: ${reader.ok ? "the native reader does not read a TSC here" : reader.reason}`);

describe.skipIf(!live)("x86-tsc on this machine (live)", () => {
  it("probes, and when usable creates a source whose now() advances and converts exactly", () => {
    const c = createClockContainer({ view: new DirectorySystemView("/", true), env: {} });
    register(c);
    const selector = c.resolve(ClockSelector);
    const facts = selector.facts();
    const readable = facts.best(X86_FACT.tscReadable);
    expect(readable?.value).toBe(true);
    // The calibration runs only when no stronger source gave the frequency.
    const others = facts.named("x86.tsc_frequency_hz").filter((f) => !f.source.startsWith("measured") && typeof f.value === "number");
    const strongerKnown = others.some((f) => f.confidence !== "heuristic");
    expect(facts.named("x86.tsc_frequency_hz").some((f) => f.source.startsWith("measured"))).toBe(!strongerKnown);
    // Asked with nothing known, it calibrates, and says how sure it is.
    const calibrated = new TscReaderProbe().probe(new DirectorySystemView("/", true), new FactSet(facts.all().filter((f) => f.name !== "x86.tsc_frequency_hz")));
    const measured = calibrated.find((f) => f.source.startsWith("measured"));
    expect(measured?.confidence).toBe("derived");
    expect(measured?.reason).toMatch(/±\d+ Hz/);
    // sanity against every other frequency source the machine has (not a timing threshold: a units check)
    for (const other of others) {
      expect(Math.abs((measured?.value as number) / (other.value as number) - 1)).toBeLessThan(0.01);
    }
    const ranked = selector.rank().backends.find((b) => b.id === "x86-tsc");
    if (!ranked?.usable) {
      console.warn(`x86-tsc not usable here: ${ranked?.reasons.join("; ")}`);
      return;
    }
    const src = new X86TscBackend().create({ facts, policy: {} });
    const a = src.now();
    const b = src.now();
    expect(b).toBeGreaterThanOrEqual(a);
    // ticks → ns is core's shared conversion at the source's frequency
    const reference = nanosecondConverter(src.frequencyHz);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (t) => src.toNanoseconds(t) === reference.toNanoseconds(t)));
    expect(src.toNanoseconds(BigInt(src.frequencyHz))).toBeGreaterThan(999_000_000n);
    expect(src.toNanoseconds(BigInt(src.frequencyHz))).toBeLessThan(1_001_000_000n);
  });
});
