/**
 * The graph of clock domains: nodes are domain names (`vm1.tsc`, `host.tsc`,
 * `host.monotonic`), edges are mappings between them. A timestamp travels the
 * exact path with the fewest hops when one exists, else the path with the
 * smallest error bound (bounds add up along a path; an unknown bound is worse
 * than any known one). Edges come from mapping files, from what trace files
 * carry, from same-machine clock pairs and from user-declared offsets; the graph
 * does not care which: each edge says where it came from.
 */
import { ClocksourceError } from "../errors.js";

/**
 * Converts a batch of values of one domain into another. `status[i]` is the
 * epoch used (≥ 0), or -1 when no epoch covers `input[i]` (then `output[i]`
 * is left equal to `input[i]`).
 */
export interface EdgeConverter {
  convert(input: BigUint64Array, output: BigUint64Array, status: Int32Array, n?: number): { outside: number; ambiguous: number };
  /**
   * Converts a value no epoch covers with the parameters of the nearest epoch
   * (extrapolation, so the event stays near where it belongs; callers flag it),
   * or undefined when even that is impossible.
   */
  extrapolate(value: bigint): bigint | undefined;
}

/** One mapping between two clock domains, in one direction. */
export interface DomainEdge {
  readonly from: string;
  readonly to: string;
  /** True when the mapping is exact (hardware offsets, a unit conversion, a declared offset). */
  readonly exact: boolean;
  /** ± bound of the mapping in nanoseconds; 0 when exact; null when the source gives no bound. */
  readonly boundNs: bigint | null;
  /** Where the mapping came from, for people (`vm1.mapping.json (kvm-x86-tsc, 2 epochs)`). */
  readonly source: string;
  /** True when the conversion depends on the CPU (a guest's vCPU) the value was taken on. */
  readonly perCpu: boolean;
  /** Number of epochs the mapping has (1 when it does not change). */
  readonly epochs: number;
  /** The converter for values taken on `cpu` (any value when {@link perCpu} is false). */
  converter(cpu: number): EdgeConverter;
}

/** A route through the graph. */
export interface DomainPath {
  readonly from: string;
  readonly to: string;
  readonly edges: readonly DomainEdge[];
  /** Every edge exact. */
  readonly exact: boolean;
  /** Sum of the edges' bounds (ns); null when any edge's bound is unknown. */
  readonly boundNs: bigint | null;
}

/** Path cost: exact paths first (by hops), then known bounds (by sum, then hops), then unknown bounds (by hops). */
interface Cost {
  readonly exact: boolean;
  readonly bound: bigint | null;
  readonly hops: number;
}

function better(a: Cost, b: Cost): boolean {
  if (a.exact !== b.exact) return a.exact;
  if ((a.bound === null) !== (b.bound === null)) return a.bound !== null;
  if (a.bound !== null && b.bound !== null && a.bound !== b.bound) return a.bound < b.bound;
  return a.hops < b.hops;
}

function extend(c: Cost, e: DomainEdge): Cost {
  return {
    exact: c.exact && e.exact,
    bound: c.bound === null || e.boundNs === null ? null : c.bound + e.boundNs,
    hops: c.hops + 1,
  };
}

/** Clock domains and the mappings between them. */
export class DomainGraph {
  private readonly out = new Map<string, DomainEdge[]>();

  /** Adds a node with no edges (so that "no path" can be told from "unknown domain"). */
  addDomain(name: string): void {
    if (!this.out.has(name)) this.out.set(name, []);
  }

  /** Adds an edge (and its end nodes). Several edges between the same two domains may coexist. */
  addEdge(edge: DomainEdge): void {
    if (edge.from === edge.to) throw new ClocksourceError("INVALID_ARGUMENT", `a mapping from ${edge.from} to itself (${edge.source})`);
    if (edge.boundNs !== null && edge.boundNs < 0n) throw new ClocksourceError("INVALID_ARGUMENT", `negative bound on ${edge.from} → ${edge.to} (${edge.source})`);
    this.addDomain(edge.from);
    this.addDomain(edge.to);
    (this.out.get(edge.from) as DomainEdge[]).push(edge);
  }

  /** Every domain, sorted. */
  domains(): string[] {
    return [...this.out.keys()].sort();
  }

  /** The edges leaving a domain. */
  edgesFrom(domain: string): readonly DomainEdge[] {
    return this.out.get(domain) ?? [];
  }

  has(domain: string): boolean {
    return this.out.has(domain);
  }

  /**
   * The best path from one domain to another (see the module docs for "best"),
   * or null when none exists. A domain reaches itself by the empty path.
   */
  path(from: string, to: string): DomainPath | null {
    if (from === to) return { from, to, edges: [], exact: true, boundNs: 0n };
    // Dijkstra over a lexicographic cost; the graphs here have a handful of nodes.
    const best = new Map<string, { cost: Cost; via: DomainEdge[] }>([[from, { cost: { exact: true, bound: 0n, hops: 0 }, via: [] }]]);
    const done = new Set<string>();
    for (;;) {
      let current: string | undefined;
      for (const [node, entry] of best) {
        if (done.has(node)) continue;
        if (current === undefined || better(entry.cost, (best.get(current) as { cost: Cost }).cost)) current = node;
      }
      if (current === undefined) return null;
      const here = best.get(current) as { cost: Cost; via: DomainEdge[] };
      if (current === to) return { from, to, edges: here.via, exact: here.cost.exact, boundNs: here.cost.bound };
      done.add(current);
      for (const e of this.edgesFrom(current)) {
        if (done.has(e.to)) continue;
        const cost = extend(here.cost, e);
        const seen = best.get(e.to);
        if (!seen || better(cost, seen.cost)) best.set(e.to, { cost, via: [...here.via, e] });
      }
    }
  }

  /** Like {@link path}, but throws a typed error naming what is reachable. */
  requirePath(from: string, to: string): DomainPath {
    const p = this.path(from, to);
    if (p) return p;
    if (!this.has(from)) throw new ClocksourceError("INVALID_ARGUMENT", `unknown clock domain ${from}`);
    const reach = this.reachable(from).filter((d) => d !== from);
    throw new ClocksourceError(
      "INVALID_ARGUMENT",
      `no mapping leads from ${from} to ${to}${reach.length > 0 ? ` (${from} reaches ${reach.join(", ")})` : ` (nothing maps ${from} anywhere)`}`,
    );
  }

  /** Every domain reachable from `from`, sorted. */
  reachable(from: string): string[] {
    const seen = new Set<string>([from]);
    const queue = [from];
    while (queue.length > 0) {
      const d = queue.shift() as string;
      for (const e of this.edgesFrom(d)) {
        if (!seen.has(e.to)) {
          seen.add(e.to);
          queue.push(e.to);
        }
      }
    }
    return [...seen].sort();
  }
}
