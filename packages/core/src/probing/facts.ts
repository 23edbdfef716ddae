/**
 * How sure a fact is.
 * - `definitive`: read directly from an authoritative source (a CPUID bit, a sysfs file, a device-tree property).
 * - `derived`: computed from definitive inputs by a documented rule (a clock name that implies a hypervisor).
 * - `heuristic`: a good guess (BogoMIPS → timer rate, a DMI vendor string).
 * - `unknown`: the input was missing, unreadable or malformed; `reason` says which.
 */
export type Confidence = "definitive" | "derived" | "heuristic" | "unknown";

/** A JSON-safe fact value. Large integers (u64) are carried as decimal strings. */
export type FactValue = string | number | boolean | null | readonly FactValue[] | { readonly [k: string]: FactValue };

/**
 * One thing learned about the machine, with where it came from and how sure it is.
 * `source` is human-readable and precise: a path under the root, a CPUID leaf
 * and register bit, or a kernel-log line.
 */
export interface Fact {
  /** Dotted name, e.g. `arch`, `virt.hypervisor`, `x86.invariant_tsc`. */
  readonly name: string;
  readonly value: FactValue;
  readonly source: string;
  readonly confidence: Confidence;
  /** Why the value is unknown (confidence `unknown`), or a note on how it was derived. */
  readonly reason?: string;
}

const RANK: Record<Confidence, number> = { definitive: 3, derived: 2, heuristic: 1, unknown: 0 };

/** Orders confidences: a positive result means `a` is stronger than `b`. */
export function compareConfidence(a: Confidence, b: Confidence): number {
  return RANK[a] - RANK[b];
}

/** Builds a known fact. */
export function fact(name: string, value: FactValue, source: string, confidence: Exclude<Confidence, "unknown">, reason?: string): Fact {
  return reason === undefined ? { name, value, source, confidence } : { name, value, source, confidence, reason };
}

/** Builds an "unknown" fact: the input could not tell, and `reason` says why. */
export function unknownFact(name: string, source: string, reason: string): Fact {
  return { name, value: null, source, confidence: "unknown", reason };
}

/** Two sources that disagree on a fact; the stronger (or first) one won. */
export interface FactConflict {
  readonly name: string;
  readonly chosen: Fact;
  readonly overruled: readonly Fact[];
}

/**
 * All the facts gathered about one machine, in the order they were learned.
 * Several sources may report the same name; {@link FactSet.best} picks the strongest.
 */
export class FactSet {
  private readonly list: Fact[] = [];

  constructor(facts: Iterable<Fact> = []) {
    for (const f of facts) this.list.push(f);
  }

  add(...facts: Fact[]): void {
    for (const f of facts) this.list.push(f);
  }

  /** Every fact, in order. */
  all(): readonly Fact[] {
    return this.list;
  }

  /** Every fact with that name (known and unknown), in order. */
  named(name: string): Fact[] {
    return this.list.filter((f) => f.name === name);
  }

  /**
   * The strongest known fact with that name: highest confidence, then first
   * learned. Returns undefined when there is none or all are unknown.
   */
  best(name: string): Fact | undefined {
    let chosen: Fact | undefined;
    for (const f of this.list) {
      if (f.name !== name || f.confidence === "unknown") continue;
      if (!chosen || compareConfidence(f.confidence, chosen.confidence) > 0) chosen = f;
    }
    return chosen;
  }

  /** The best value for `name`, or undefined. */
  value(name: string): FactValue | undefined {
    return this.best(name)?.value;
  }

  /** The reason(s) a fact is unknown, when no source knew it. */
  unknownReasons(name: string): string[] {
    if (this.best(name)) return [];
    return this.named(name).map((f) => `${f.source}: ${f.reason ?? "unknown"}`);
  }

  /** Facts whose known sources disagree on the value, with the one that won. */
  conflicts(): FactConflict[] {
    const names = [...new Set(this.list.map((f) => f.name))];
    const out: FactConflict[] = [];
    for (const name of names) {
      const chosen = this.best(name);
      if (!chosen) continue;
      const key = JSON.stringify(chosen.value);
      const overruled = this.named(name).filter((f) => f.confidence !== "unknown" && JSON.stringify(f.value) !== key);
      if (overruled.length > 0) out.push({ name, chosen, overruled });
    }
    return out;
  }
}
