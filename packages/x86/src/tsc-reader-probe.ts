import { FACT, describeErrno, fact, unknownFact, type CapabilityProbe, type Fact, type FactSet, type SystemView } from "@clocksource/core";
import { nativeReader, type NativeReader } from "./native-reader.js";
import { measureCounterFrequency } from "./tsc-calibration.js";
import { X86_FACT, isX86Machine } from "./x86-facts.js";

/**
 * Whether this process can read the TSC (live machine, native reader built),
 * and — only when no stronger source (CPUID, the hypervisor, the kernel's own
 * reading or refined calibration) gave the frequency — a ~120 ms calibration
 * against CLOCK_MONOTONIC_RAW, reported as measured with its uncertainty.
 */
export class TscReaderProbe implements CapabilityProbe {
  readonly id = "x86-tsc-reader";

  /** @param reader the native reader; by default the installed `@clocksource/native`'s, loaded only when a live machine is probed */
  constructor(private readonly reader: NativeReader | undefined = undefined) {}

  probe(view: SystemView, known: FactSet): Fact[] {
    if (!isX86Machine(known)) return [];
    if (!view.live) return [unknownFact(X86_FACT.tscReadable, view.root, "a snapshot: its counter cannot be read from here")];
    const reader = this.reader ?? nativeReader();
    if (!reader.ok) return [fact(X86_FACT.tscReadable, false, "@clocksource/native", "definitive", `native reader unavailable: ${reader.reason}`)];
    if (reader.native.counter !== "tsc" || !reader.native.rdtsc) {
      return [fact(X86_FACT.tscReadable, false, "@clocksource/native", "definitive", `the native reader reads ${reader.native.counter}, not the TSC (built for another architecture)`)];
    }
    // Having an rdtsc entry point is not having read the TSC: read it once, as the claim says.
    let first: bigint;
    try {
      first = reader.native.rdtsc();
    } catch (e) {
      return [fact(X86_FACT.tscReadable, false, "@clocksource/native rdtsc", "definitive", `reading the TSC failed: ${describeErrno(e)}`)];
    }
    const out: Fact[] = [fact(X86_FACT.tscReadable, true, "@clocksource/native rdtsc", "definitive", `read TSC = ${first}`)];
    const stronger = known.best(FACT.x86TscFrequencyHz);
    if (stronger && stronger.confidence !== "heuristic") return out;
    try {
      const m = measureCounterFrequency(reader.native);
      const ppm = (m.uncertaintyHz / m.hz) * 1e6;
      out.push(
        fact(
          FACT.x86TscFrequencyHz,
          Math.round(m.hz),
          "measured: rdtsc against CLOCK_MONOTONIC_RAW",
          "derived",
          `measured over ${(m.intervalNs / 1e6).toFixed(0)} ms: ±${Math.ceil(m.uncertaintyHz)} Hz (±${ppm.toFixed(2)} ppm; brackets ${m.bracketTicks[0]}/${m.bracketTicks[1]} ticks); CLOCK_MONOTONIC_RAW is the kernel's scaling of its own clocksource, so this checks against the kernel's calibration`,
        ),
      );
    } catch (e) {
      out.push(unknownFact(FACT.x86TscFrequencyHz, "measured: rdtsc against CLOCK_MONOTONIC_RAW", `calibration failed: ${(e as Error).message}`));
    }
    return out;
  }
}
