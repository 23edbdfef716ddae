import { inject, injectable, injectAll } from "tsyringe";
import { fact, FactSet, unknownFact } from "./facts.js";
import { FACT } from "./fact-names.js";
import type { CapabilityProbe } from "./probe.js";
import type { SystemView } from "./system-view.js";
import { CAPABILITY_PROBE, SYSTEM_VIEW } from "../selection/tokens.js";

/** Runs every registered probe over the system view, in registration order, and collects the facts. */
@injectable()
export class CapabilityProber {
  constructor(
    @inject(SYSTEM_VIEW) readonly view: SystemView,
    @injectAll(CAPABILITY_PROBE, { isOptional: true }) private readonly probes: CapabilityProbe[],
  ) {}

  /**
   * Probes the machine. Never throws: a failing probe leaves an unknown
   * `probe.<id>` fact. Every input the view read only in part (a kernel log
   * over its cap) adds an `input.truncated` fact naming the input and the cap.
   */
  run(): FactSet {
    const facts = new FactSet();
    for (const p of this.probes) {
      try {
        facts.add(...p.probe(this.view, facts));
      } catch (e) {
        facts.add(unknownFact(`probe.${p.id}`, p.id, `probe failed: ${(e as Error)?.message ?? String(e)}`));
      }
    }
    for (const cut of this.view.cuts?.() ?? []) {
      facts.add(fact(FACT.inputTruncated, true, cut.source, "definitive", `read only the first ${cut.limit} ${cut.unit}: facts from what follows are missing`));
    }
    return facts;
  }
}
