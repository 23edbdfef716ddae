import type { ClockSource } from "../clock-source.js";
import type { FactSet } from "../probing/facts.js";
import type { SelectionPolicy } from "./policy.js";

/**
 * Rating bands, in the spirit of the kernel's clocksource ratings
 * (`include/linux/clocksource.h`): higher is better, and a backend picks a value
 * inside its band to express finer preference.
 */
export const RATING = {
  /** A hardware counter with an exact guest ↔ host mapping (x86 TSC with known offset/scale, arm64 counter with known offset). */
  exactHardware: 400,
  /** A hardware counter whose guest ↔ host mapping is estimated. */
  estimatedHardware: 300,
  /** The paravirtual estimate alone (host agent over a byte stream). */
  paravirtual: 200,
  /** The OS monotonic clock: always there, unrelated to any other machine's. */
  osMonotonic: 100,
  /** Unusable backends are reported with rating 0. */
  unusable: 0,
} as const;

/** What a backend can say about mapping its timestamps to the host's time base. */
export type MappingKind = "exact" | "estimated" | "none";

/** A backend's assessment of this machine. */
export interface BackendVerdict {
  readonly usable: boolean;
  /** Higher is better; see {@link RATING}. */
  readonly rating: number;
  /** Why it is usable or not, and what lowered its rating; each reason names its evidence. */
  readonly reasons: readonly string[];
  /** Whether the source can be mapped to the host's time base exactly, by estimate, or not at all. */
  readonly mapping: MappingKind;
}

/** Context a backend may use to assess and create. */
export interface BackendContext {
  readonly facts: FactSet;
  readonly policy: SelectionPolicy;
}

/**
 * A clock backend: one class, registered under {@link CLOCK_BACKEND}.
 * `assess` must be cheap and must not throw (an exception is reported as an
 * unusable verdict); `create` is called only for the selected backend.
 */
export interface ClockBackend {
  /** Stable id, kebab-case (`x86-tsc`, `arm-generic-timer`, `paravirt`, `os-monotonic`). */
  readonly id: string;
  /** One line for people. */
  readonly description: string;
  assess(context: BackendContext): BackendVerdict;
  create(context: BackendContext): ClockSource;
}

/** Builds an unusable verdict. */
export function unusable(reasons: readonly string[], mapping: MappingKind = "none"): BackendVerdict {
  return { usable: false, rating: RATING.unusable, reasons, mapping };
}
