/**
 * Mapping files as edges of the {@link DomainGraph}: one edge each way, per
 * vCPU where the file's parameters are per vCPU.
 */
import { ClocksourceError } from "../errors.js";
import { batchConverter } from "./batch-mapping.js";
import type { DomainEdge, EdgeConverter } from "./domain-graph.js";
import { resolveMapping, withinRange, type MappingCodecRegistry, type MappingEpoch, type MappingFile, type ResolvedMapping } from "./mapping-file.js";

/** How a mapping file's generic domains (`guest.tsc` → `host.tsc`) are named in one graph. */
export interface MappingEdgeOptions {
  /** The graph's name for the file's `from` domain (`vm1.tsc`). */
  readonly from: string;
  /** The graph's name for the file's `to` domain (`host.tsc`). */
  readonly to: string;
  /** Where the file came from, for the edge's `source` (its path). */
  readonly source: string;
  /**
   * Ticks per second of the `to` domain when it counts ticks, to express the
   * file's error bound in ns; omit for a nanosecond domain. When a non-zero
   * bound is in ticks of an unknown rate, the edge's bound is unknown (null).
   */
  readonly toTicksPerSecond?: bigint | null;
  /** Is the `to` domain counted in nanoseconds? */
  readonly toIsNanoseconds: boolean;
}

/** Which vCPUs a file has parameters for (empty when every epoch has one set for all). */
export function mappingVcpus(file: MappingFile): number[] {
  const s = new Set<number>();
  for (const e of file.epochs) if (e.vcpus) for (const k of e.vcpus.keys()) s.add(k);
  return [...s].sort((a, b) => a - b);
}

function boundNs(file: MappingFile, o: MappingEdgeOptions): bigint | null {
  if (file.exact || file.errorBound === 0n) return 0n;
  if (o.toIsNanoseconds) return file.errorBound;
  if (!o.toTicksPerSecond) return null;
  // Round up: a bound must never shrink in conversion.
  return (file.errorBound * 1_000_000_000n + o.toTicksPerSecond - 1n) / o.toTicksPerSecond;
}

/** Distance from a value to an epoch's validity range, in the range's own domain. */
function distance(e: MappingEpoch, v: bigint): bigint {
  if (e.validFrom !== null && v < e.validFrom) return e.validFrom - v;
  if (e.validUntil !== null && v >= e.validUntil) return v - e.validUntil + 1n;
  return 0n;
}

/** Batch conversion through a resolved mapping (core's batch path, epochs chosen like `convert` does). */
function edgeConverter(resolved: ResolvedMapping, direction: "forward" | "inverse"): EdgeConverter {
  const batch = batchConverter(resolved, direction);
  const epochs = resolved.file.epochs;
  return {
    convert: (input, output, status, n) => batch.convert(input, output, status, n),
    extrapolate(value) {
      // Forward: the epoch whose source range is nearest. Inverse: try each epoch, newest first,
      // and keep the one whose result lands nearest its range.
      let best: { d: bigint; v: bigint } | undefined;
      for (let k = epochs.length - 1; k >= 0; k--) {
        const f = resolved.functions[k];
        if (!f) continue;
        const v = withinRange(() => (direction === "forward" ? f.forward(value) : f.inverse(value)));
        if (v === undefined) continue;
        const d = distance(epochs[k] as MappingEpoch, direction === "forward" ? value : v);
        if (!best || d < best.d) best = { d, v };
      }
      return best?.v;
    },
  };
}

/**
 * The two edges (forward and inverse) a mapping file gives, with the graph's
 * domain names. A file with per-vCPU parameters gives per-CPU edges (values
 * taken on CPU n convert with vCPU n's parameters); asking for a vCPU the file
 * does not have is a typed error naming the vCPUs it has.
 * @throws ClocksourceError `INVALID_MAPPING` when the file does not resolve
 */
export function mappingFileEdges(file: MappingFile, registry: MappingCodecRegistry, o: MappingEdgeOptions): [DomainEdge, DomainEdge] {
  const vcpus = mappingVcpus(file);
  const perCpu = vcpus.length > 0;
  // Resolve now, once, so a bad file fails before any event is read.
  const shared = perCpu ? undefined : resolveMapping(file, registry);
  const cache = new Map<number, ResolvedMapping>();
  const resolvedFor = (cpu: number): ResolvedMapping => {
    if (shared) return shared;
    let r = cache.get(cpu);
    if (!r) {
      if (!vcpus.includes(cpu)) {
        throw new ClocksourceError("INVALID_MAPPING", `${o.source}: no parameters for vCPU ${cpu} (the file has vCPUs ${vcpus.join(", ")}): is it the mapping of another VM?`);
      }
      r = resolveMapping(file, registry, { vcpu: cpu });
      cache.set(cpu, r);
    }
    return r;
  };
  if (perCpu) for (const v of vcpus) resolvedFor(v);
  const bound = boundNs(file, o);
  const describe = `${o.source} (${file.kind}, ${file.epochs.length} epoch${file.epochs.length === 1 ? "" : "s"}${perCpu ? `, vCPUs ${vcpus.join(",")}` : ""})`;
  const edge = (direction: "forward" | "inverse"): DomainEdge => {
    const converters = new Map<number, EdgeConverter>();
    return {
      from: direction === "forward" ? o.from : o.to,
      to: direction === "forward" ? o.to : o.from,
      exact: file.exact,
      boundNs: bound,
      source: direction === "forward" ? describe : `${describe}, inverted`,
      perCpu,
      epochs: file.epochs.length,
      converter(cpu) {
        const key = perCpu ? cpu : 0;
        let c = converters.get(key);
        if (!c) {
          c = edgeConverter(resolvedFor(cpu), direction);
          converters.set(key, c);
        }
        return c;
      },
    };
  };
  return [edge("forward"), edge("inverse")];
}
