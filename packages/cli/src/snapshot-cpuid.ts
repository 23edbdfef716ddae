import type { SystemView } from "@clocksource/core";

export type CpuidDump = { ok: true; text: string } | { ok: false; reason: string };

/**
 * Ways to write the CPUID dump of a snapshot, tried in order. The x86 package
 * provides the real one (it reads `dev/cpu/0/cpuid` and formats a dump its
 * parser reads back); until then a snapshot says it has none.
 */
export function cpuidDumpProviders(): ReadonlyArray<(view: SystemView) => CpuidDump> {
  return [(view) => ({ ok: false, reason: view.live ? "no CPUID dump writer is available" : "CPUID is read only from a live machine" })];
}
