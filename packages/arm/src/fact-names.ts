import { FACT } from "@clocksource/core";

/**
 * The facts of the Arm timer probe. The first four are the probe report's
 * `arm` section (core `FACT.arm*`); the rest are details with their own sources.
 */
export const ARM_FACT = {
  /** boolean: the architected generic timer's CP15 counter is present and used by the kernel. */
  genericTimer: FACT.armGenericTimer,
  /** number (Hz): the counter frequency. Several sources; the strongest wins. */
  timerFrequencyHz: FACT.armTimerFrequencyHz,
  /** number: the counter width (bits) the kernel assumes. */
  counterWidthBits: FACT.armCounterWidthBits,
  /** string[]: names of the counter errata that apply. */
  errata: FACT.armErrata,
  /** object `{ name, kind }`: the clocksource the kernel uses and what kind of timer it is. */
  kernelTimer: "arm.kernel_timer",
  /** object: the device-tree node of the architected timer (path, compatible, status). */
  dtTimerNode: "arm.dt_timer_node",
  /** boolean: the ACPI GTDT exists. */
  acpiGtdt: "arm.acpi_gtdt",
  /** `virt` | `phys`: which counter the kernel's CP15 timer reads (from the boot banner). */
  kernelCounter: "arm.kernel_counter",
  /** boolean: FEAT_ECV (`ecv` in cpuinfo Features). */
  ecv: "arm.ecv",
  /** boolean: the timer event stream is on (`evtstrm` in Features). */
  evtstrm: "arm.evtstrm",
  /** boolean: the timer keeps running in deep idle states (DT `always-on`, GTDT flag). */
  alwaysOn: "arm.always_on",
  /** boolean: the counter stops in system suspend (DT `arm,no-tick-in-suspend`). */
  noTickInSuspend: "arm.no_tick_in_suspend",
  /** boolean: user-space CNTVCT reads trap to the kernel (`Trapping CNTVCT access`). */
  cntvctTrapped: "arm.cntvct_trapped",
  /** boolean: CNTVCT_EL0 was read from user space on this machine (live only). */
  counterReadable: "arm.counter_readable",
  /** Per-erratum detail: `arm.erratum.<id>`. */
  erratumPrefix: "arm.erratum.",
} as const;
