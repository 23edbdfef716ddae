import { register as registerArm } from "@clocksource/arm";
import { register as registerParavirt } from "@clocksource/paravirt";
import { register as registerX86 } from "@clocksource/x86";
import type { DependencyContainer } from "tsyringe";

/**
 * Registers the probes and backends of every backend package built into the
 * command line (x86, Arm, paravirtual), in the order of
 * package-versions.ts's BACKEND_PACKAGE_NAMES: registration order breaks
 * rating ties. Plugins (plugins.ts) register after them.
 */
export function registerBundledBackends(c: DependencyContainer): void {
  registerX86(c);
  registerArm(c);
  registerParavirt(c);
}
