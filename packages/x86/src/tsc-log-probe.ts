import { X86_FACT } from "./x86-facts.js";
import { FACT, fact, kernelLogLines, logLineSource, parseDecimalScaled, unknownFact, type CapabilityProbe, type Fact, type FactSet, type KernelLogLine, type SystemView } from "@clocksource/core";
import { isX86Machine } from "./x86-facts.js";

/** `2400.113` (MHz, as the kernel prints `%lu.%03lu`) → Hz, exactly (core `parseDecimalScaled`). */
export function mhzToHz(text: string): number | undefined {
  const hz = parseDecimalScaled(text, 6);
  return hz === null || hz > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(hz);
}

interface FrequencyRule {
  readonly re: RegExp;
  readonly confidence: "derived" | "heuristic";
  readonly why: string;
}

/** Kernel messages that state a TSC frequency, weakest first (a stronger rule's fact wins). */
const FREQUENCY_RULES: readonly FrequencyRule[] = [
  { re: /^(?:tsc: )?Detected (\d+(?:\.\d+)?) MHz processor\.?\s*$/, confidence: "heuristic", why: "the kernel's early estimate (a quick PIT/HPET calibration unless CPUID gave it)" },
  { re: /^(?:tsc: )?Detected (\d+(?:\.\d+)?) MHz TSC\.?\s*$/, confidence: "derived", why: "the kernel's TSC frequency where it differs from the CPU's" },
  { re: /^(?:tsc: )?Refined TSC clocksource calibration: (\d+(?:\.\d+)?) MHz\.?\s*$/, confidence: "derived", why: "the kernel's refined calibration against a reference clock (beats `Detected`)" },
  { re: /TSC freq read from hypervisor\s*:?\s*(\d+(?:\.\d+)?) MHz/, confidence: "derived", why: "the kernel read the TSC frequency from the hypervisor (kHz resolution)" },
];

/** Kernel messages that mean the TSC was declared unstable. */
const UNSTABLE_RULES: readonly RegExp[] = [
  /Marking TSC unstable due to (.+?)\s*$/,
  /Marking clocksource 'tsc' as unstable/,
  /TSC warp between CPUs, turning off TSC clock/,
  /^(?:tsc: )?Marking TSC unstable\b/,
];

/**
 * TSC facts from the kernel log: frequencies (`Detected … MHz processor`,
 * `Refined TSC clocksource calibration`, `TSC freq read from hypervisor`; the
 * last line of each kind, for logs that hold several boots) and whether the
 * kernel marked the TSC unstable.
 */
export function kernelLogTscFacts(text: string, source: string, known: FactSet): Fact[] {
  const lines = kernelLogLines(text);
  const out: Fact[] = [];
  const lastOf = new Map<FrequencyRule, { line: KernelLogLine; hz: number }>();
  let unstable: KernelLogLine | undefined;
  let bootSeen = false;
  let lastSwitch: KernelLogLine | undefined;
  for (const line of lines) {
    for (const rule of FREQUENCY_RULES) {
      const m = rule.re.exec(line.message);
      const hz = m ? mhzToHz(m[1] as string) : undefined;
      if (hz !== undefined) {
        lastOf.set(rule, { line, hz });
        bootSeen = true;
      }
    }
    if (!unstable && UNSTABLE_RULES.some((re) => re.test(line.message))) unstable = line;
    if (/Switched to clocksource \S+/.test(line.message)) lastSwitch = line;
  }
  // Strongest first, so that among equal confidences the better rule is learned first.
  // With tsc_known_freq the kernel took "Detected … MHz processor" from CPUID,
  // an MSR or the hypervisor instead of its quick calibration (kHz resolution).
  const knownFreq = known.value(X86_FACT.tscKnownFreq) === true;
  for (const rule of [...FREQUENCY_RULES].reverse()) {
    const hit = lastOf.get(rule);
    if (!hit) continue;
    const trusted = knownFreq && rule.confidence === "heuristic" && /processor/.test(rule.re.source);
    out.push(
      trusted
        ? fact(FACT.x86TscFrequencyHz, hit.hz, logLineSource(source, hit.line), "derived", "tsc_known_freq: the kernel read this frequency (CPUID, MSR or hypervisor) rather than calibrating; kHz resolution")
        : fact(FACT.x86TscFrequencyHz, hit.hz, logLineSource(source, hit.line), rule.confidence, rule.why),
    );
  }
  if (unstable) {
    out.push(fact(FACT.x86TscUnstable, true, logLineSource(source, unstable), "definitive", "the kernel marked the TSC unstable"));
  } else if (lastSwitch && /Switched to clocksource tsc\s*$/.test(lastSwitch.message)) {
    out.push(fact(FACT.x86TscUnstable, false, logLineSource(source, lastSwitch), "derived", "the kernel switched to the TSC and never marked it unstable in this log"));
  } else if (bootSeen) {
    out.push(fact(FACT.x86TscUnstable, false, `${source} (no "Marking TSC unstable" line)`, "heuristic", "the log covers TSC set-up and has no instability message; a later one may have been rotated out"));
  }
  const current = known.best(FACT.kernelClocksourceCurrent);
  if (!unstable && current?.value === "tsc" && current.confidence === "definitive") {
    out.push(fact(FACT.x86TscUnstable, false, current.source, "derived", "the kernel's current clocksource is the TSC, which it drops when it marks the TSC unstable"));
  }
  return out;
}

const currentIsTsc = (known: FactSet) => {
  const current = known.best(FACT.kernelClocksourceCurrent);
  return current?.value === "tsc" && current.confidence === "definitive" ? current : undefined;
};

/**
 * TSC frequency and stability from the kernel log (and the current
 * clocksource). A snapshot holding only a log or sysfs has no architecture
 * fact; there the TSC's own messages (or a clocksource named `tsc`, which only
 * x86 registers) say it is x86, and `arch.family` records that.
 */
export class TscKernelLogProbe implements CapabilityProbe {
  readonly id = "x86-kernel-log";

  probe(view: SystemView, known: FactSet): Fact[] {
    const arch = known.value(FACT.arch);
    if (typeof arch === "string" && !isX86Machine(known)) return [];
    const log = view.kernelLog();
    const facts: Fact[] = log.ok ? kernelLogTscFacts(log.value, log.source, known) : [];
    if (isX86Machine(known)) {
      if (!log.ok) {
        facts.push(unknownFact(FACT.x86TscUnstable, log.source, log.reason));
        const current = currentIsTsc(known);
        if (current) facts.push(fact(FACT.x86TscUnstable, false, current.source, "derived", "the kernel's current clocksource is the TSC, which it drops when it marks the TSC unstable"));
      }
      return facts;
    }
    const tscMessages = facts.some((f) => f.name === FACT.x86TscFrequencyHz || f.value === true);
    const current = currentIsTsc(known);
    const available = known.best(FACT.kernelClocksourceAvailable);
    const tscAvailable = Array.isArray(available?.value) && available.value.includes("tsc") ? available : undefined;
    if (!tscMessages && !current && !tscAvailable) return [];
    if (!tscMessages && !current && tscAvailable) return [fact("arch.family", "x86", tscAvailable.source, "derived", "the kernel registered a `tsc` clocksource, which only x86 has")];
    if (current && !facts.some((f) => f.source === current.source)) facts.push(fact(FACT.x86TscUnstable, false, current.source, "derived", "the kernel's current clocksource is the TSC, which it drops when it marks the TSC unstable"));
    facts.unshift(fact("arch.family", "x86", tscMessages ? (log.ok ? log.source : "kernel log") : current?.source ?? "", "derived", tscMessages ? "the kernel log has x86 TSC messages" : "the kernel's clocksource is `tsc`, which only x86 registers"));
    return facts;
  }
}
