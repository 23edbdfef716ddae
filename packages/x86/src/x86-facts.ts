import { FACT, type FactSet } from "@clocksource/core";

/**
 * Fact names this package emits besides the shared ones in core's `FACT`
 * (`x86.vendor`, `x86.invariant_tsc`, `x86.tsc_frequency_hz`, `x86.tsc_unstable`, …).
 */
export const X86_FACT = {
  /** Why CPUID could not be read (unknown facts only). */
  cpuid: "x86.cpuid",
  family: "x86.family",
  model: "x86.model",
  stepping: "x86.stepping",
  brand: "x86.brand",
  /** The raw signature string at CPUID 0x40000000. */
  hypervisorSignature: "x86.hypervisor_signature",
  /** KVM paravirtual features (CPUID 0x40000001), names as in the kernel docs. */
  kvmFeatures: "x86.kvm_features",
  constantTsc: "x86.constant_tsc",
  nonstopTsc: "x86.nonstop_tsc",
  tscReliable: "x86.tsc_reliable",
  tscKnownFreq: "x86.tsc_known_freq",
  rdtscp: "x86.rdtscp",
  tscAdjust: "x86.tsc_adjust",
  /** The counter the native reader can read (`rdtsc`), with the reason when not. */
  tscReadable: "x86.tsc_readable",
} as const;

/** True when the facts so far say this is an x86 machine (arch fact, or a CPUID dump's family). */
export function isX86Machine(known: FactSet): boolean {
  const arch = known.value(FACT.arch);
  return arch === "x86_64" || arch === "x86" || known.value("arch.family") === "x86";
}
