import { cpuinfoValue, cpuinfoWords, FACT, fact, parseCpuinfo, type CapabilityProbe, type Fact, type FactSet, type SystemView } from "@clocksource/core";
import { X86_FACT } from "./x86-facts.js";

/** The TSC-related `/proc/cpuinfo` flags and the fact each one sets. */
const FLAG_FACTS: readonly { flag: string; name: string; meaning: string }[] = [
  { flag: "constant_tsc", name: X86_FACT.constantTsc, meaning: "the TSC ticks at a constant rate" },
  { flag: "nonstop_tsc", name: X86_FACT.nonstopTsc, meaning: "the TSC does not stop in deep C-states" },
  { flag: "tsc_reliable", name: X86_FACT.tscReliable, meaning: "platform or hypervisor says the TSC is reliable (no watchdog)" },
  { flag: "tsc_known_freq", name: X86_FACT.tscKnownFreq, meaning: "the kernel knows the TSC frequency without calibrating" },
  { flag: "rdtscp", name: X86_FACT.rdtscp, meaning: "the RDTSCP instruction exists" },
  { flag: "tsc_adjust", name: X86_FACT.tscAdjust, meaning: "the IA32_TSC_ADJUST MSR exists" },
];

/**
 * Facts from `/proc/cpuinfo` on x86: the kernel's TSC flags, the hypervisor
 * flag, vendor and family/model. Confidence follows what the flags can prove:
 * `constant_tsc` + `nonstop_tsc` (both set by the kernel from CPUID 0x80000007
 * EDX[8]) make the TSC invariant; `constant_tsc` alone does not; a missing
 * `hypervisor` flag is weak evidence of bare metal, since old guest kernels
 * never printed it.
 */
export function cpuinfoTscFacts(text: string, source: string): Fact[] {
  const blocks = parseCpuinfo(text);
  const flags = cpuinfoWords(blocks, "flags");
  const vendor = cpuinfoValue(blocks, "vendor_id");
  if (!flags && !vendor) return [];
  const out: Fact[] = [];
  if (vendor) out.push(fact(FACT.x86Vendor, vendor, `${source} (vendor_id)`, "definitive"));
  const family = cpuinfoValue(blocks, "cpu family");
  const model = cpuinfoValue(blocks, "model");
  if (family && /^\d+$/.test(family)) out.push(fact(X86_FACT.family, Number(family), `${source} (cpu family)`, "definitive"));
  if (model && /^\d+$/.test(model)) out.push(fact(X86_FACT.model, Number(model), `${source} (model)`, "definitive"));
  if (!flags) return out;
  const src = (f: string) => `${source} flags ${f}`;
  for (const f of FLAG_FACTS) {
    out.push(flags.has(f.flag) ? fact(f.name, true, src(f.flag), "definitive", f.meaning) : fact(f.name, false, src(f.flag), "derived", "flag not listed"));
  }
  out.push(
    flags.has("hypervisor")
      ? fact(FACT.hypervisorPresent, true, src("hypervisor"), "definitive", "the kernel read CPUID.1:ECX[31] as set")
      : fact(FACT.hypervisorPresent, false, src("hypervisor"), "heuristic", "no `hypervisor` flag; old guest kernels never printed it, so this does not prove bare metal"),
  );
  const constant = flags.has("constant_tsc");
  const nonstop = flags.has("nonstop_tsc");
  if (constant && nonstop) {
    out.push(fact(FACT.x86InvariantTsc, true, src("constant_tsc nonstop_tsc"), "derived", "the kernel sets both from CPUID 0x80000007 EDX[8]"));
  } else if (constant) {
    out.push(fact(FACT.x86InvariantTsc, false, src("constant_tsc"), "heuristic", "constant_tsc without nonstop_tsc: the TSC may stop in deep C-states (kernels before 2.6.26 did not print nonstop_tsc, hence heuristic)"));
  } else if (flags.has("tsc")) {
    out.push(fact(FACT.x86InvariantTsc, false, src("tsc"), "derived", "a TSC without constant_tsc: its rate follows the CPU clock"));
  } else {
    out.push(fact(FACT.x86InvariantTsc, false, src("tsc"), "derived", "no TSC at all"));
  }
  return out;
}

/** x86 flags from `/proc/cpuinfo`. */
export class CpuinfoTscProbe implements CapabilityProbe {
  readonly id = "x86-cpuinfo";

  probe(view: SystemView, _known: FactSet): Fact[] {
    const r = view.readText("proc/cpuinfo");
    if (!r.ok) return [];
    return cpuinfoTscFacts(r.value, r.source);
  }
}
