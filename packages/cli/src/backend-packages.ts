import type { DependencyContainer } from "tsyringe";
import { register as registerArm } from "@clocksource/arm";
import { register as registerParavirt } from "@clocksource/paravirt";
import { register as registerX86 } from "@clocksource/x86";

/**
 * The backend packages the command line ships with. Each exports
 * `register(container)`; add a package here to make `clocksource` use it.
 */
const REGISTRATIONS: ReadonlyArray<(c: DependencyContainer) => void> = [registerX86, registerArm, registerParavirt];

/** Registers every bundled backend package's probes and backends. */
export function registerBundledBackends(c: DependencyContainer): void {
  for (const register of REGISTRATIONS) register(c);
}
