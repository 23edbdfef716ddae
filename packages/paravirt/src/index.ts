/**
 * @packageDocumentation
 * @clocksource/paravirt — see the package description.
 */
import "reflect-metadata";
import type { DependencyContainer } from "tsyringe";

/** Registers this package's probes and backends in `container` (never the global one). */
export function register(container: DependencyContainer): void {
  void container;
}
