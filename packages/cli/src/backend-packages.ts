import type { DependencyContainer } from "tsyringe";

/**
 * The backend packages the command line ships with. Each exports
 * `register(container)`; add a package here to make `clocksource` use it.
 */
const REGISTRATIONS: ReadonlyArray<(c: DependencyContainer) => void> = [];

/** Registers every bundled backend package's probes and backends. */
export function registerBundledBackends(c: DependencyContainer): void {
  for (const register of REGISTRATIONS) register(c);
}
