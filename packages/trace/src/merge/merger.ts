/**
 * The streaming merge: several traces in, one timeline out.
 *
 * Each input is read in its own order (raw timestamps, non-decreasing), its
 * events are mapped in batches along their route through the clock-domain
 * graph, and the mapped events wait in one queue per (input, buffer, CPU):
 * within such a queue a mapping is monotonic (between epoch switches), so
 * the queues are sorted and a heap of their heads gives the next event. An
 * event is released only when no input can still produce an earlier one: each
 * input's *low water mark* is the smallest mapped time its future events can
 * have (its raw frontier mapped for every CPU it has). Memory is bounded by
 * how far the inputs' mappings pull apart, not by the trace sizes; a hard cap
 * on waiting events keeps it bounded even when a mapping runs backwards (an
 * event released early is flagged, never dropped).
 */
import { ClocksourceError, isClocksourceError, type DomainEdge, type DomainGraph, type DomainPath, type EdgeConverter } from "@clocksource/core";
import type { TraceEvent, TraceReader } from "../model/event.js";
import { MinHeap } from "../model/min-heap.js";

/** Flags on a merged event. */
export const MERGE_FLAG = {
  /** No epoch of some mapping on the route covered the raw timestamp: mapped with the nearest epoch. */
  outsideEpoch: 1,
  /** Closer to an event of another input than their combined uncertainty: their order is not known. */
  orderUnknown: 2,
  /** Released after a later event (a mapping ran backwards, or the wait cap was hit). */
  outOfOrder: 4,
  /** No mapping could place it at all (even extrapolated): it keeps its raw timestamp. */
  unmapped: 8,
} as const;

/** Each flag with its name in the writers' output (`order_unknown`, …), in a fixed order. */
export const MERGE_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [MERGE_FLAG.orderUnknown, "order_unknown"],
  [MERGE_FLAG.outsideEpoch, "outside_epochs"],
  [MERGE_FLAG.outOfOrder, "out_of_order"],
  [MERGE_FLAG.unmapped, "unmapped"],
];

/** One event on the merged timeline. */
export interface MergedEvent {
  /** Index of its machine (inputs of one machine share it), in order of first appearance. */
  readonly machine: number;
  /** Index of its input in the merge. */
  readonly input: number;
  readonly event: TraceEvent;
  /** Timestamp in the target domain. */
  readonly ts: bigint;
  /** ± uncertainty of `ts` in ns (0 for exact routes); null when unknown. */
  readonly boundNs: bigint | null;
  /** {@link MERGE_FLAG} bits. */
  flags: number;
}

/** One input of a merge. */
export interface MergeInput {
  /** The input's name (`host`, `vm1`, `host/perf`). */
  readonly name: string;
  /** The machine it was recorded on (default: its name); inputs of one machine share its clocks. */
  readonly machine?: string;
  readonly reader: TraceReader;
  /** The clock domain of each buffer's raw timestamps (`""` is the top-level buffer). */
  readonly domains: ReadonlyMap<string, string>;
  /** CPUs the input is known to have (for the low water mark); CPUs seen while reading are added. */
  readonly cpus?: readonly number[];
}

/** How one (input, buffer) reaches the target. */
export interface MergeRoute {
  /** The input's name. */
  readonly machine: string;
  readonly buffer: string;
  readonly path: DomainPath;
  /** Events that took this route. */
  events: number;
}

/** Counts a merge keeps; complete once the merge has ended. */
export interface MergeStats {
  /** Per input, in input order. */
  readonly machines: { name: string; events: number; outsideEpoch: number; unmapped: number; epochsUsed: Set<string>; maxBoundNs: bigint | null; boundUnknown: boolean }[];
  readonly routes: MergeRoute[];
  orderUnknown: number;
  outOfOrder: number;
  /** Largest number of events that waited at once. */
  peakWaiting: number;
}

export interface MergeOptions {
  readonly graph: DomainGraph;
  /** The target domain (`host.tsc`). */
  readonly target: string;
  /** Events per output batch (default 4096). */
  readonly batchSize?: number;
  /** Waiting events before the oldest is released regardless (default 4M). */
  readonly maxWaiting?: number;
  /**
   * Whether the target counts nanoseconds, and else its ticks per second when known: bounds are
   * in ns, and comparing them with gaps between events needs the gaps in ns too. Default: a
   * nanosecond target. A tick target of unknown rate treats every non-zero bound as unknown.
   */
  readonly targetUnit?: { readonly ns: true } | { readonly ns: false; readonly ticksPerSecond: bigint | null };
}

interface Queue {
  readonly source: Source;
  /** The route's bound in target units (null: unknown), for the order check. */
  readonly bound: bigint | null;
  items: MergedEvent[];
  head: number;
}

interface RouteState {
  readonly path: DomainPath;
  readonly stats: MergeRoute;
  /** The path's bound in target units; null when unknown or not convertible. */
  readonly boundTarget: bigint | null;
  readonly perCpu: boolean;
  readonly converters: Map<number, EdgeConverter[]>;
}

interface Source {
  readonly index: number;
  readonly machine: number;
  readonly input: MergeInput;
  readonly iterator: AsyncIterator<readonly TraceEvent[]>;
  readonly routes: Map<string, RouteState>;
  readonly queues: Map<string, Queue>;
  readonly cpus: Set<number>;
  done: boolean;
  /** Largest raw timestamp read so far. */
  frontier: bigint | null;
  /** Smallest mapped time a future event can have; null before the first batch. */
  lowWater: bigint | null;
}

function convertersFor(route: RouteState, cpu: number): EdgeConverter[] {
  const key = route.perCpu ? cpu : 0;
  let c = route.converters.get(key);
  if (!c) {
    c = route.path.edges.map((e: DomainEdge) => e.converter(cpu));
    route.converters.set(key, c);
  }
  return c;
}

/** Maps one value along a route, extrapolating where no epoch covers it (for low water marks). */
function mapOne(converters: readonly EdgeConverter[], v: bigint): bigint | undefined {
  const a = new BigUint64Array([v]);
  const st = new Int32Array(1);
  for (const c of converters) {
    c.convert(a, a, st, 1);
    if ((st[0] as number) < 0) {
      const x = c.extrapolate(a[0] as bigint);
      if (x === undefined) return undefined;
      a[0] = x;
    }
  }
  return a[0] as bigint;
}

const bigMin = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * Merges the inputs into one timeline in the target domain, in batches.
 * `stats` fills in as the merge runs.
 * @throws ClocksourceError `INVALID_ARGUMENT` when an input's clock cannot reach the target
 */
export async function* mergeTraces(inputs: readonly MergeInput[], options: MergeOptions, stats: MergeStats): AsyncGenerator<MergedEvent[]> {
  const batchSize = options.batchSize ?? 4096;
  const maxWaiting = options.maxWaiting ?? 4 * 1024 * 1024;
  const machineIndex = new Map<string, number>();
  for (const i of inputs) {
    const m = i.machine ?? i.name;
    if (!machineIndex.has(m)) machineIndex.set(m, machineIndex.size);
  }
  const unit = options.targetUnit ?? { ns: true };
  /** A bound in ns as target units, rounded up; null when unknown or the tick rate is. */
  const inTargetUnits = (ns: bigint | null): bigint | null => {
    if (ns === null) return null;
    if (unit.ns || ns === 0n) return ns;
    if (unit.ticksPerSecond === null) return null;
    return (ns * unit.ticksPerSecond + 999_999_999n) / 1_000_000_000n;
  };
  const sources: Source[] = inputs.map((input, index) => {
    const routes = new Map<string, RouteState>();
    for (const [buffer, domain] of input.domains) {
      const path = options.graph.requirePath(domain, options.target);
      const route: MergeRoute = { machine: input.name, buffer, path, events: 0 };
      routes.set(buffer, { path, stats: route, boundTarget: inTargetUnits(path.boundNs), perCpu: path.edges.some((e) => e.perCpu), converters: new Map() });
      stats.routes.push(route);
    }
    stats.machines.push({ name: input.name, events: 0, outsideEpoch: 0, unmapped: 0, epochsUsed: new Set(), maxBoundNs: 0n, boundUnknown: false });
    return {
      index,
      machine: machineIndex.get(input.machine ?? input.name) as number,
      input,
      iterator: input.reader.batches()[Symbol.asyncIterator](),
      routes,
      queues: new Map(),
      cpus: new Set(input.cpus ?? []),
      done: false,
      frontier: null,
      lowWater: null,
    };
  });

  const heap = new MinHeap<Queue>((a, b) => {
    const x = a.items[a.head] as MergedEvent;
    const y = b.items[b.head] as MergedEvent;
    return x.ts < y.ts || (x.ts === y.ts && a.source.index < b.source.index);
  });
  let waiting = 0;

  const routeOf = (s: Source, buffer: string): RouteState => {
    const r = s.routes.get(buffer);
    if (r) return r;
    throw new ClocksourceError("INVALID_TRACE", `${s.input.name}: events of buffer ${JSON.stringify(buffer)}, whose clock the merge was not told`);
  };

  const updateLowWater = (s: Source) => {
    if (s.done || s.frontier === null) return;
    let lw: bigint | null = null;
    for (const [, route] of s.routes) {
      const cpus = route.perCpu ? (s.cpus.size > 0 ? [...s.cpus] : [0]) : [0];
      for (const cpu of cpus) {
        let m: bigint | undefined;
        try {
          m = mapOne(convertersFor(route, cpu), s.frontier);
        } catch (e) {
          // A CPU the mapping has no parameters for places nothing; its events fail loudly when they come.
          if (!isClocksourceError(e)) throw e;
        }
        if (m !== undefined) lw = lw === null ? m : bigMin(lw, m);
      }
    }
    // A frontier no mapping can place says nothing: keep the previous mark. A mark lower than the
    // last (a mapping that runs backwards) is taken as it is: waiting longer keeps the order.
    if (lw !== null) s.lowWater = lw;
  };

  const mapBatch = (s: Source, events: readonly TraceEvent[]) => {
    const mstats = stats.machines[s.index] as MergeStats["machines"][number];
    // Group by (buffer, CPU when the route depends on it).
    const groups = new Map<string, { route: RouteState; cpu: number; buffer: string; idx: number[] }>();
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as TraceEvent;
      if (e.cpu >= 0) s.cpus.add(e.cpu);
      const route = routeOf(s, e.buffer);
      const key = route.perCpu ? `${e.buffer}\u0000${e.cpu}` : e.buffer;
      let g = groups.get(key);
      if (!g) {
        g = { route, cpu: e.cpu, buffer: e.buffer, idx: [] };
        groups.set(key, g);
      }
      g.idx.push(i);
    }
    for (const g of groups.values()) {
      const n = g.idx.length;
      g.route.stats.events += n;
      const values = new BigUint64Array(n);
      for (let j = 0; j < n; j++) values[j] = (events[g.idx[j] as number] as TraceEvent).ts;
      const flags = new Uint8Array(n);
      let converters: EdgeConverter[] | undefined;
      try {
        converters = convertersFor(g.route, g.cpu);
      } catch (e) {
        if (g.cpu < 0) throw new ClocksourceError("INVALID_TRACE", `${s.input.name}: events without a CPU, but its mapping depends on the vCPU`);
        throw e;
      }
      const status = new Int32Array(n);
      converters.forEach((c, k) => {
        const edge = g.route.path.edges[k] as DomainEdge;
        // A value no epoch covers is left as it was (the converter's contract): extrapolate from it.
        c.convert(values, values, status, n);
        for (let j = 0; j < n; j++) {
          const st = status[j] as number;
          if (st >= 0) {
            if (edge.epochs > 1) mstats.epochsUsed.add(`${edge.source}#${st}`);
            continue;
          }
          const f = flags[j] as number;
          if (f & MERGE_FLAG.unmapped) continue;
          const x = c.extrapolate(values[j] as bigint);
          if (x === undefined) flags[j] = f | MERGE_FLAG.unmapped;
          else {
            values[j] = x;
            flags[j] = f | MERGE_FLAG.outsideEpoch;
          }
        }
      });
      const bound = g.route.path.boundNs;
      const queueKey = `${g.buffer}\u0000${g.cpu}`;
      let q = s.queues.get(queueKey);
      const wasEmpty = !q || q.head >= q.items.length;
      if (!q) {
        q = { source: s, bound: g.route.boundTarget, items: [], head: 0 };
        s.queues.set(queueKey, q);
      } else if (wasEmpty) {
        q.items = [];
        q.head = 0;
      }
      for (let j = 0; j < n; j++) {
        const e = events[g.idx[j] as number] as TraceEvent;
        const f = flags[j] as number;
        if (f & MERGE_FLAG.unmapped) {
          mstats.unmapped++;
          q.items.push({ machine: s.machine, input: s.index, event: e, ts: e.ts, boundNs: null, flags: f });
        } else {
          if (f & MERGE_FLAG.outsideEpoch) mstats.outsideEpoch++;
          q.items.push({ machine: s.machine, input: s.index, event: e, ts: values[j] as bigint, boundNs: bound, flags: f });
        }
      }
      if (bound === null) mstats.boundUnknown = true;
      else if (mstats.maxBoundNs === null || bound > mstats.maxBoundNs) mstats.maxBoundNs = bound;
      waiting += n;
      if (wasEmpty) heap.push(q);
    }
    mstats.events += events.length;
    if (waiting > stats.peakWaiting) stats.peakWaiting = waiting;
  };

  const pull = async (s: Source): Promise<void> => {
    const r = await s.iterator.next();
    if (r.done) {
      s.done = true;
      return;
    }
    const events = r.value;
    if (events.length === 0) return;
    mapBatch(s, events);
    const last = (events[events.length - 1] as TraceEvent).ts;
    if (s.frontier === null || last > s.frontier) s.frontier = last;
    updateLowWater(s);
  };

  // Last released event per input and its bound in target units, for the order-unknown check.
  const lastOf: ({ ts: bigint; bound: bigint | null } | undefined)[] = inputs.map(() => undefined);
  let lastTs: bigint | null = null;
  let out: MergedEvent[] = [];

  const release = (): MergedEvent => {
    const q = heap.peek() as Queue;
    const ev = q.items[q.head] as MergedEvent;
    q.head++;
    waiting--;
    if (q.head < q.items.length) heap.replaceTop(q);
    else heap.pop();
    if (lastTs !== null && ev.ts < lastTs) {
      ev.flags |= MERGE_FLAG.outOfOrder;
      stats.outOfOrder++;
    } else lastTs = ev.ts;
    const bound = q.bound;
    for (let m = 0; m < lastOf.length; m++) {
      if (m === ev.input) continue;
      const other = lastOf[m];
      if (!other) continue;
      let unknown: boolean;
      if (bound === 0n && other.bound === 0n) unknown = ev.ts === other.ts; // exact: only a shared tick is a tie
      else if (bound === null || other.bound === null) unknown = true;
      else unknown = (ev.ts >= other.ts ? ev.ts - other.ts : other.ts - ev.ts) <= bound + other.bound;
      if (unknown && (ev.flags & MERGE_FLAG.orderUnknown) === 0) {
        ev.flags |= MERGE_FLAG.orderUnknown;
        stats.orderUnknown++;
      }
    }
    const last = lastOf[ev.input];
    if (last) {
      last.ts = ev.ts;
      last.bound = bound;
    } else lastOf[ev.input] = { ts: ev.ts, bound };
    return ev;
  };

  try {
    for (;;) {
      // The input holding everything back: not yet started, or with the lowest mark.
      let blocker: Source | undefined;
      for (const s of sources) {
        if (s.done) continue;
        if (s.lowWater === null) {
          blocker = s;
          break;
        }
        if (!blocker || (blocker.lowWater as bigint) > s.lowWater) blocker = s;
      }
      const top = heap.peek();
      const topTs = top ? (top.items[top.head] as MergedEvent).ts : null;
      if (topTs !== null && (!blocker || (blocker.lowWater !== null && topTs <= blocker.lowWater) || waiting >= maxWaiting)) {
        out.push(release());
        if (out.length >= batchSize) {
          yield out;
          out = [];
        }
        continue;
      }
      if (!blocker) break;
      await pull(blocker);
    }
    if (out.length > 0) yield out;
  } finally {
    for (const s of sources) {
      if (!s.done) await s.iterator.return?.();
    }
  }
}

/** Empty stats to pass to {@link mergeTraces}. */
export function newMergeStats(): MergeStats {
  return { machines: [], routes: [], orderUnknown: 0, outOfOrder: 0, peakWaiting: 0 };
}
