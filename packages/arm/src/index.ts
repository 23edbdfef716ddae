/**
 * @packageDocumentation
 * @clocksource/arm — the Arm generic timer: probing (device tree, ACPI GTDT,
 * cpuinfo, kernel log, the counter registers on a live arm64 machine), counter
 * errata, the counter width, the `arm-generic-timer` backend and the exact
 * CNTVOFF guest ↔ host mapping (`arm-cntvoff` mapping files).
 */
import "reflect-metadata";
import { CAPABILITY_PROBE, CLOCK_BACKEND } from "@clocksource/core";
import type { DependencyContainer } from "tsyringe";
import { ArmCpuProbe } from "./arm-cpu-probe.js";
import { ArmTimerProbe } from "./arm-timer-probe.js";
import { ArmGenericTimerBackend } from "./generic-timer-backend.js";

export * from "./device-tree.js";
export * from "./dt-timer.js";
export * from "./acpi-gtdt.js";
export * from "./cpu-id.js";
export * from "./cpu-types.js";
export * from "./timer-log.js";
export * from "./counter-width.js";
export * from "./bogomips.js";
export * from "./frequency.js";
export * from "./errata.js";
export * from "./errata-read.js";
export * from "./fact-names.js";
export * from "./native-reader.js";
export * from "./default-reader.js";
export * from "./arm-cpu-probe.js";
export * from "./arm-timer-probe.js";
export * from "./generic-timer-backend.js";
export * from "./cntvoff-mapping.js";
export * from "./cntvoff-epochs.js";

/**
 * Registers this package's probes (CPU types, then the generic timer) and the
 * `arm-generic-timer` backend in `container` (never the global one).
 */
export function register(container: DependencyContainer): void {
  container.register(CAPABILITY_PROBE, { useClass: ArmCpuProbe });
  container.register(CAPABILITY_PROBE, { useClass: ArmTimerProbe });
  container.register(CLOCK_BACKEND, { useClass: ArmGenericTimerBackend });
}
