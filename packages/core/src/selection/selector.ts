import { inject, injectable, injectAll } from "tsyringe";
import { unusable, type BackendContext, type BackendVerdict, type ClockBackend, type MappingKind } from "./backend.js";
import type { ClockSource } from "../clock-source.js";
import { ClocksourceError } from "../errors.js";
import type { FactSet } from "../probing/facts.js";
import { mergePolicies, type SelectionPolicy } from "./policy.js";
import { CapabilityProber } from "../probing/prober.js";
import { CLOCK_BACKEND, SELECTION_POLICY } from "./tokens.js";

/** One backend's place in the ranking. */
export interface RankedBackend {
  readonly id: string;
  readonly description: string;
  readonly usable: boolean;
  readonly rating: number;
  readonly mapping: MappingKind;
  readonly reasons: readonly string[];
  /** False when the policy rules it out (excluded, not exact); `reasons` says why. */
  readonly eligible: boolean;
}

/** Every backend's verdict, ranked, and the one the policy picks. */
export interface Ranking {
  readonly facts: FactSet;
  readonly policy: SelectionPolicy;
  /** Usable-and-eligible first by rating (ties: registration order), then the rest in the same order. */
  readonly backends: readonly RankedBackend[];
  /** The backend selection would use, or null when none is usable and eligible. */
  readonly selected: RankedBackend | null;
  /** Why this one: one sentence per decision. */
  readonly explanation: readonly string[];
}

/** A ranking with the created clock source of the selected backend. */
export interface Selection extends Ranking {
  readonly selected: RankedBackend;
  readonly source: ClockSource;
}

/**
 * Picks the best registered backend for this machine, like the kernel's
 * clocksource framework picks the highest-rated clocksource, honouring the
 * user's policy, and explains the choice. Unusable backends stay in the
 * ranking with their reasons.
 */
@injectable()
export class ClockSelector {
  private cachedFacts: FactSet | undefined;

  constructor(
    private readonly prober: CapabilityProber,
    @injectAll(CLOCK_BACKEND, { isOptional: true }) private readonly backends: ClockBackend[],
    @inject(SELECTION_POLICY) private readonly policy: SelectionPolicy,
  ) {}

  /** The facts about this machine (probed once, then cached). */
  facts(): FactSet {
    this.cachedFacts ??= this.prober.run();
    return this.cachedFacts;
  }

  /** The registered backend ids, in registration order. */
  backendIds(): string[] {
    return this.backends.map((b) => b.id);
  }

  /**
   * Assesses and ranks every backend without creating any clock source.
   * @throws ClocksourceError `UNKNOWN_BACKEND` when the policy names an id no backend has
   */
  rank(override: SelectionPolicy = {}): Ranking {
    const policy = mergePolicies(this.policy, override);
    this.checkIds(policy);
    const facts = this.facts();
    const context: BackendContext = { facts, policy };
    const seen = new Set<string>();
    const assessed = this.backends.map((backend, order) => {
      let verdict: BackendVerdict;
      if (seen.has(backend.id)) {
        verdict = unusable([`another backend is already registered with id ${backend.id}`]);
      } else {
        try {
          verdict = backend.assess(context);
        } catch (e) {
          verdict = unusable([`assessment failed: ${(e as Error)?.message ?? String(e)}`]);
        }
      }
      seen.add(backend.id);
      const reasons = [...verdict.reasons];
      let eligible = true;
      if (policy.exclude?.includes(backend.id)) {
        eligible = false;
        reasons.push("excluded by policy");
      }
      if (policy.requireExactMapping && verdict.mapping !== "exact") {
        eligible = false;
        reasons.push(`policy requires an exact mapping; this backend's mapping is ${verdict.mapping}`);
      }
      const ranked: RankedBackend = {
        id: backend.id,
        description: backend.description,
        usable: verdict.usable,
        rating: verdict.rating,
        mapping: verdict.mapping,
        reasons,
        eligible,
      };
      return { ranked, order };
    });
    const candidate = (r: RankedBackend) => r.usable && r.eligible;
    assessed.sort((a, b) => {
      const ca = candidate(a.ranked) ? 1 : 0;
      const cb = candidate(b.ranked) ? 1 : 0;
      if (ca !== cb) return cb - ca;
      if (a.ranked.rating !== b.ranked.rating) return b.ranked.rating - a.ranked.rating;
      return a.order - b.order;
    });
    const backends = assessed.map((a) => a.ranked);
    const explanation: string[] = [];
    let selected: RankedBackend | null = null;
    for (const id of policy.prefer ?? []) {
      const b = backends.find((x) => x.id === id) as RankedBackend;
      if (candidate(b)) {
        selected = b;
        explanation.push(`${id} selected: preferred by policy and usable (rating ${b.rating})`);
        break;
      }
      explanation.push(`preferred backend ${id} not chosen: ${b.usable ? "" : "not usable: "}${b.reasons.join("; ") || "no reason given"}`);
    }
    if (!selected) {
      const best = backends[0];
      if (best && candidate(best)) {
        selected = best;
        const tie = backends.filter((b) => candidate(b) && b.rating === best.rating);
        explanation.push(`${best.id} selected: highest rating among usable backends (${best.rating})` + (tie.length > 1 ? `; tied with ${tie.slice(1).map((b) => b.id).join(", ")}, registered earlier wins` : ""));
        const next = backends.find((b) => b !== best && candidate(b));
        if (next) explanation.push(`next: ${next.id} (rating ${next.rating})`);
      } else {
        explanation.push("no backend is usable and allowed by the policy");
      }
    }
    const better = backends.filter((b) => selected && b !== selected && b.rating > selected.rating && !candidate(b));
    for (const b of better) explanation.push(`${b.id} would rate higher (${b.rating}) but ${b.usable ? "the policy rules it out" : "is not usable"}: ${b.reasons.join("; ")}`);
    return { facts, policy, backends, selected, explanation };
  }

  /**
   * Ranks the backends and creates the selected one's clock source. If
   * creating it fails, that backend is marked unusable with the error and the
   * next one is tried.
   * @throws ClocksourceError `NO_USABLE_BACKEND` when none can be created
   */
  select(override: SelectionPolicy = {}): Selection {
    const ranking = this.rank(override);
    const failures: string[] = [];
    const order = ranking.selected ? [ranking.selected, ...ranking.backends.filter((b) => b !== ranking.selected)] : [];
    for (const ranked of order) {
      if (!ranked.usable || !ranked.eligible) continue;
      const backend = this.backends.find((b) => b.id === ranked.id) as ClockBackend;
      try {
        const source = backend.create({ facts: ranking.facts, policy: ranking.policy });
        const explanation = [...ranking.explanation];
        if (failures.length > 0) explanation.push(...failures, `${ranked.id} selected instead`);
        return { ...ranking, selected: ranked, source, explanation };
      } catch (e) {
        failures.push(`${ranked.id} could not create its clock source: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    throw new ClocksourceError("NO_USABLE_BACKEND", [...ranking.explanation, ...failures].join("; ") || "no backend is registered");
  }

  private checkIds(policy: SelectionPolicy): void {
    const ids = new Set(this.backendIds());
    for (const id of [...(policy.prefer ?? []), ...(policy.exclude ?? [])]) {
      if (!ids.has(id)) {
        throw new ClocksourceError("UNKNOWN_BACKEND", `unknown backend ${JSON.stringify(id)} (registered: ${[...ids].join(", ") || "none"})`);
      }
    }
  }
}
