import type { Fact, FactSet } from "./facts.js";
import type { SystemView } from "./system-view.js";

/**
 * A capability probe: a pure function of the system view (and the facts
 * earlier probes learned) to facts. It must not throw on missing, unreadable
 * or malformed input: that becomes an "unknown" fact with the reason. (If one
 * throws anyway, the prober records an unknown `probe.<id>` fact and goes on.)
 */
export interface CapabilityProbe {
  readonly id: string;
  probe(view: SystemView, known: FactSet): readonly Fact[];
}
