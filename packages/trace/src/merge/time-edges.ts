/**
 * Edges of the clock-domain graph that come from the traces themselves or from
 * the user: trace-cmd's TIME_SHIFT and TSC2NSEC, perf's TIME_CONV, a declared
 * offset. (Mapping files become edges in core's `mappingFileEdges`.)
 */
import {
  ClocksourceError,
  mappingFileEdges,
  MAPPING_SCHEMA,
  U64_MAX,
  wrapU64,
  type DomainEdge,
  type EdgeConverter,
  type JsonValue,
  type MappingCodecRegistry,
  type MappingEpoch,
  type MappingFile,
} from "@clocksource/core";
import type { PerfTimeConv, TimeShiftRecord, TscConversion } from "../model/event.js";

/** The kind and parameter names of KVM x86 TSC mapping files (docs/mapping-files.md). */
export const KVM_TSC_KIND = "kvm-x86-tsc";

/** An edge converter that applies a per-value function (for edges without a batch kernel). */
function perValue(f: (v: bigint) => bigint | undefined): EdgeConverter {
  return {
    convert(input, output, status, n = input.length) {
      let outside = 0;
      for (let i = 0; i < n; i++) {
        const v = input[i] as bigint;
        const r = f(v);
        if (r === undefined) {
          output[i] = v;
          status[i] = -1;
          outside++;
        } else {
          output[i] = r;
          status[i] = 0;
        }
      }
      return { outside, ambiguous: 0 };
    },
    extrapolate: () => undefined,
  };
}

function constantEdge(from: string, to: string, source: string, converter: EdgeConverter, exact = true, boundNs: bigint | null = 0n): DomainEdge {
  return { from, to, exact, boundNs, source, perCpu: false, epochs: 1, converter: () => converter };
}

/**
 * A declared offset, as `trace-cmd report --ts-offset` takes it: `to = from + offset`
 * (mod 2^64), in the input's raw units. Exact by declaration.
 */
export function offsetEdges(from: string, to: string, offset: bigint, source: string): [DomainEdge, DomainEdge] {
  const fwd = perValue((v) => wrapU64(v + offset));
  const inv = perValue((v) => wrapU64(v - offset));
  return [constantEdge(from, to, source, fwd), constantEdge(to, from, `${source}, inverted`, inv)];
}

/**
 * A `((ticks × mult) >> shift) + offset` clock conversion and its exact inverse
 * (the smallest tick count whose image is ≥ the value): perf's TIME_CONV
 * (perf time ↔ TSC) and trace-cmd's TSC2NSEC.
 */
export function multShiftEdges(ticks: string, ns: string, mult: number, shift: number, offset: bigint, source: string): [DomainEdge, DomainEdge] {
  if (!Number.isInteger(mult) || mult <= 0 || !Number.isInteger(shift) || shift < 0 || shift > 63) {
    throw new ClocksourceError("INVALID_TRACE", `${source}: unusable conversion (mult ${mult}, shift ${shift})`);
  }
  const m = BigInt(mult);
  const s = BigInt(shift);
  // Exact, not wrapped: a time past 2^64 − 1 has no u64 value (outside), rather than a wrong one.
  const fwd = perValue((t) => {
    const v = ((t * m) >> s) + offset;
    return v < 0n || v > U64_MAX ? undefined : v;
  });
  const inv = perValue((n) => {
    const d = n - offset;
    if (d < 0n) return 0n;
    const t = ((d << s) + m - 1n) / m;
    return t > U64_MAX ? undefined : t;
  });
  return [constantEdge(ticks, ns, source, fwd), constantEdge(ns, ticks, `${source}, inverted`, inv)];
}

/** perf's TIME_CONV as edges `tsc` ↔ perf time. */
export function perfTimeConvEdges(tscDomain: string, perfDomain: string, c: PerfTimeConv, source: string): [DomainEdge, DomainEdge] {
  return multShiftEdges(tscDomain, perfDomain, c.timeMult, c.timeShift, c.timeZero, `${source} (perf TIME_CONV)`);
}

/** trace-cmd's TSC2NSEC as edges `tsc` ↔ ns. */
export function tsc2nsecEdges(tscDomain: string, nsDomain: string, c: TscConversion, source: string): [DomainEdge, DomainEdge] {
  return multShiftEdges(tscDomain, nsDomain, c.mult, c.shift, c.offset, `${source} (trace-cmd TSC2NSEC)`);
}

/** TRACECMD_TSYNC_FLAG_INTERPOLATE. */
const INTERPOLATE = 1;

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/**
 * A mapping file of kind `kvm-x86-tsc` built in memory: per vCPU, one epoch
 * per sample (valid from the sample's time in the source domain), each
 * `{ tscOffset, tscScalingRatio, fracBits }`. How trace-cmd's kvm samples and
 * the host's `kvm_write_tsc_offset` events reach the exact KVM math: through
 * the codec registry the caller wired, like every mapping file.
 */
export function kvmTscFile(producer: string, epochs: readonly { validFrom: bigint | null; validUntil: bigint | null; vcpus: ReadonlyMap<number, { tscOffset: bigint; ratio: bigint; fracBits: number }> }[]): MappingFile {
  const at = new Date(0).toISOString();
  const list: MappingEpoch[] = epochs.map((e) => ({
    observedAt: at,
    lastObservedAt: null,
    validFrom: e.validFrom,
    validUntil: e.validUntil,
    boundary: null,
    errorBound: 0n,
    vcpus: new Map([...e.vcpus].map(([k, p]) => [k, { tscOffset: p.tscOffset.toString(), tscScalingRatio: p.ratio.toString(), fracBits: p.fracBits } as JsonValue])),
  }));
  return { schema: MAPPING_SCHEMA, kind: KVM_TSC_KIND, from: "guest.tsc", to: "host.tsc", createdAt: at, producer, exact: true, errorBound: 0n, origin: null, epochs: list };
}

/**
 * trace-cmd TIME_SHIFT samples as edges from the guest's clock to the host's.
 *
 * Samples without the INTERPOLATE flag come from trace-cmd's `kvm` protocol:
 * offset = −(KVM's tsc-offset) and scaling = KVM's tsc-scaling-ratio (1 when
 * unscaled), so guest = ((host × ratio) >> frac) − offset exactly; the edge uses
 * the exact KVM inverse per vCPU, one epoch per sample — also when there is a
 * single sample, where `trace-cmd report` adds the offset and ignores the
 * scaling. Samples with INTERPOLATE (the `ptp` protocol) are estimates with no
 * recorded bound: the offset is interpolated between samples as trace-cmd does,
 * and the edge's bound is unknown.
 */
export function timeShiftEdges(guest: string, host: string, shift: TimeShiftRecord, registry: MappingCodecRegistry, source: string): DomainEdge[] {
  if (shift.cpus.length === 0 || shift.cpus.every((c) => c.times.length === 0)) throw new ClocksourceError("INVALID_TRACE", `${source}: TIME_SHIFT holds no samples`);
  if ((shift.flags & INTERPOLATE) === 0) {
    // Epoch k of vCPU c: from sample k's time on. The vCPUs' sample times differ, so each
    // vCPU's epochs are laid out separately, then merged on a common list of boundaries.
    const bounds = new Set<bigint>();
    shift.cpus.forEach((c) => c.times.forEach((t, k) => k > 0 && bounds.add(t)));
    const cuts = [...bounds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const starts: (bigint | null)[] = [null, ...cuts];
    const epochs = starts.map((from, k) => {
      const until = k < cuts.length ? (cuts[k] as bigint) : null;
      const vcpus = new Map<number, { tscOffset: bigint; ratio: bigint; fracBits: number }>();
      shift.cpus.forEach((c, cpu) => {
        if (c.times.length === 0) return;
        // The sample in force at the epoch's start: the last one whose time is ≤ it.
        let s = 0;
        if (from !== null) for (let i = 0; i < c.times.length; i++) if ((c.times[i] as bigint) <= from) s = i;
        const offset = c.offsets[s] as bigint;
        const scaling = c.scalings[s] as bigint;
        const frac = c.fractions[s] ?? 0;
        if (offset < I64_MIN || offset > I64_MAX) throw new ClocksourceError("INVALID_TRACE", `${source}: CPU ${cpu} sample ${s}: offset ${offset} is not an i64`);
        const unscaled = scaling === 1n || (frac > 0 && scaling === 1n << BigInt(frac));
        vcpus.set(cpu, { tscOffset: -offset, ratio: unscaled ? 1n : scaling, fracBits: unscaled ? 0 : frac });
      });
      return { validFrom: from, validUntil: until, vcpus };
    });
    const file = kvmTscFile(`${source} (trace-cmd TIME_SHIFT, kvm samples)`, epochs);
    if (!registry.has(KVM_TSC_KIND)) throw new ClocksourceError("INVALID_ARGUMENT", `${source}: the ${KVM_TSC_KIND} mapping kind is not registered (needed for TIME_SHIFT kvm samples)`);
    return mappingFileEdges(file, registry, { from: guest, to: host, source: `${source} TIME_SHIFT (kvm samples)`, toIsNanoseconds: false });
  }
  const converters = shift.cpus.map((c) => perValue((ts) => interpolatedShift(c, ts)));
  const edge: DomainEdge = {
    from: guest,
    to: host,
    exact: false,
    boundNs: null,
    source: `${source} TIME_SHIFT (interpolated samples; the file records no bound)`,
    perCpu: true,
    epochs: Math.max(...shift.cpus.map((c) => c.times.length)),
    converter(cpu) {
      const conv = converters[cpu];
      if (!conv || (shift.cpus[cpu]?.times.length ?? 0) === 0) throw new ClocksourceError("INVALID_TRACE", `${source}: TIME_SHIFT has no samples for CPU ${cpu}`);
      return conv;
    },
  };
  return [edge];
}

/** C's truncating division of signed values (what trace-cmd computes with `long long`). */
function truncDiv(a: bigint, b: bigint): bigint {
  return a / b; // BigInt division truncates toward zero, as C does.
}

/** One interpolated TIME_SHIFT conversion, following trace-cmd's `timestamp_calc` and its sample search. */
function interpolatedShift(c: TimeShiftRecord["cpus"][number], ts: bigint): bigint | undefined {
  const n = c.times.length;
  if (n === 0) return undefined;
  let lo = 0;
  if (n >= 2) {
    if (ts <= (c.times[0] as bigint)) lo = 0;
    else if (ts >= (c.times[n - 1] as bigint)) lo = n - 2;
    else {
      // The last sample at or before ts.
      let a = 0;
      let b = n - 1;
      while (b - a > 1) {
        const m = (a + b) >> 1;
        if ((c.times[m] as bigint) <= ts) a = m;
        else b = m;
      }
      lo = a;
    }
  }
  const t0 = c.times[lo] as bigint;
  const o0 = c.offsets[lo] as bigint;
  let offset = o0;
  if (n >= 2) {
    const t1 = c.times[lo + 1] as bigint;
    const o1 = c.offsets[lo + 1] as bigint;
    const delta = t1 - t0;
    if (delta !== 0n) offset = o0 + truncDiv((ts - t0) * (o1 - o0) + truncDiv(delta, 2n), delta);
  }
  const scaling = c.scalings[lo] as bigint;
  const frac = BigInt(c.fractions[lo] ?? 0);
  const scaled = scaling === 0n || scaling === 1n ? ts : (ts * scaling) >> frac;
  return wrapU64(scaled + offset);
}
