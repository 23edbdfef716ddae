/**
 * Whether a machine (or snapshot) is an Arm one, so the Arm probes stay quiet
 * on x86 and speak up on Arm even when the core could not name the
 * architecture (a snapshot with only sysfs or only a kernel log).
 */
import { FACT, type Confidence, type FactSet } from "@clocksource/core";

/** Clocksource names only Arm kernels register. */
export const ARM_CLOCKSOURCES = new Set(["arch_sys_counter", "arch_mem_counter", "arm_global_timer"]);

/** The architecture as the known facts name it: `arm64`, `arm`, another, or null when unknown. */
export function knownArch(known: FactSet): string | null {
  const v = known.value(FACT.arch);
  return typeof v === "string" ? v : null;
}

/** True when the facts say this is not an Arm machine (x86 by name or by the cpuid device). */
export function knownNotArm(known: FactSet): boolean {
  const arch = knownArch(known);
  if (arch !== null) return arch !== "arm" && arch !== "arm64";
  return known.value("arch.family") === "x86";
}

/** The kernel clocksources the core probe found: the available list (complete), else the current one only. */
export function kernelClocksources(known: FactSet): { names: string[]; source: string; confidence: Exclude<Confidence, "unknown">; complete: boolean } | null {
  const avail = known.best(FACT.kernelClocksourceAvailable);
  if (avail && Array.isArray(avail.value)) {
    return { names: avail.value.filter((x): x is string => typeof x === "string"), source: avail.source, confidence: avail.confidence as Exclude<Confidence, "unknown">, complete: true };
  }
  const cur = known.best(FACT.kernelClocksourceCurrent);
  if (cur && typeof cur.value === "string") return { names: [cur.value], source: cur.source, confidence: cur.confidence as Exclude<Confidence, "unknown">, complete: false };
  return null;
}
