import {
  checkKeys,
  ClocksourceError,
  withinRange,
  DOMAIN,
  jsonI64,
  jsonObject,
  jsonU64,
  mappingError,
  U64_MAX,
  type BatchMapping,
  type JsonObject,
  type JsonValue,
  type MappingCodec,
  type MappingFunction,
} from "@clocksource/core/mapping";
import { errorBoundAt, offsetAt } from "./estimator.js";
import { floorDiv } from "./rational.js";

/** The mapping-file kind of paravirtual estimates (`guest.monotonic` → `host.monotonic`). */
export const PARAVIRT_KIND = "paravirt-estimate";

const PPT = 1_000_000_000_000n;
const NS_PER_S = 1_000_000_000n;

/** One epoch's parameters: the fitted line and its uncertainty. */
export interface ParavirtParams {
  /** Guest time (ns) the offset refers to. */
  readonly referenceGuestNs: bigint;
  /** host − guest at the reference, ns. */
  readonly offsetNs: bigint;
  /** d(offset)/d(guest) in parts per 10^12. */
  readonly driftPpt: bigint;
  /** Bound on |true − estimated offset| at the reference, ns. */
  readonly errorBoundNs: bigint;
  /** Bound on |true − estimated drift|, parts per 10^12; widens the bound away from the reference. */
  readonly driftBoundPpt: bigint;
  /** When the host clock is a counter (`host.tsc`): its ticks per second; the result is in its ticks. */
  readonly hostTicksPerSecond: bigint | null;
}

/** Largest |drift| accepted in a file: 10% (no real pair of clocks is that far apart). */
const MAX_DRIFT_PPT = PPT / 10n;

function checkParams(p: ParavirtParams, path: string): void {
  if (p.driftPpt > MAX_DRIFT_PPT || p.driftPpt < -MAX_DRIFT_PPT) throw mappingError(`${path}.driftPpt`, `|drift| must be below 10% (${MAX_DRIFT_PPT} ppt), got ${p.driftPpt}`);
  if (p.hostTicksPerSecond !== null && p.hostTicksPerSecond === 0n) throw mappingError(`${path}.hostTicksPerSecond`, "must be at least 1");
}

/** Guest ns → host ns (before any tick conversion), exactly as the estimate defines it. */
function hostNs(p: ParavirtParams, g: bigint): bigint {
  return g + offsetAt(p, g);
}

function toOut(p: ParavirtParams, ns: bigint): bigint {
  return p.hostTicksPerSecond === null ? ns : floorDiv(ns * p.hostTicksPerSecond, NS_PER_S);
}

/** The forward conversion, u64 in and out. @throws ClocksourceError `OUT_OF_RANGE` */
function forward(p: ParavirtParams, g: bigint): bigint {
  if (g < 0n || g > U64_MAX) throw new ClocksourceError("OUT_OF_RANGE", `${g} is not a u64 guest time`);
  const h = toOut(p, hostNs(p, g));
  if (h < 0n || h > U64_MAX) throw new ClocksourceError("OUT_OF_RANGE", `guest ${g} ns maps outside the u64 range of the host clock`);
  return h;
}

/** The smallest guest time whose forward image is ≥ `h` (forward is non-decreasing); `OUT_OF_RANGE` below f(0) and above f(2^64−1). */
function inverse(p: ParavirtParams, h: bigint): bigint {
  if (h < 0n || h > U64_MAX) throw new ClocksourceError("OUT_OF_RANGE", `${h} is not a u64 host time`);
  const f = (g: bigint) => toOut(p, hostNs(p, g));
  let lo = 0n;
  let hi = U64_MAX;
  if (f(hi) < h) throw new ClocksourceError("OUT_OF_RANGE", `host ${h} is beyond the image of every u64 guest time`);
  // Below the image of guest 0 there is no guest time either: an error, as above the top (not a silent 0).
  if (f(lo) > h) throw new ClocksourceError("OUT_OF_RANGE", `host ${h} is before the image of guest time 0 (${f(lo)})`);
  while (lo < hi) {
    const mid = (lo + hi) / 2n;
    if (f(mid) >= h) hi = mid;
    else lo = mid + 1n;
  }
  return lo;
}

/**
 * Codec for estimated paravirtual mappings. Params:
 * `{ "referenceGuestNs": "<u64>", "offsetNs": "<i64>", "driftPpt": "<i64>",
 *    "errorBoundNs": "<u64>", "driftBoundPpt": "<u64>", "hostTicksPerSecond": null | "<u64>" }`.
 * Forward: host = guest + offsetNs + ⌊driftPpt·(guest − referenceGuestNs) / 10^12⌋
 * (then ⌊· × hostTicksPerSecond / 10^9⌋ for a counter); inverse: the smallest
 * guest time whose forward value is ≥ the input (an input below the image of guest
 * time 0, like one above that of 2^64−1, is `OUT_OF_RANGE`). The bound at guest g is
 * {@link paravirtBoundAt}; the epoch's `errorBound` is the one at the reference.
 */
export const paravirtCodec: MappingCodec<ParavirtParams> = {
  kind: PARAVIRT_KIND,
  description: "paravirtual estimate: host = guest + offset + drift·(guest − reference), with an error bound",
  exact: false,
  domains: [
    { from: DOMAIN.guestMonotonic, to: DOMAIN.hostMonotonic },
    { from: DOMAIN.guestMonotonic, to: DOMAIN.hostTsc },
  ],
  parseParams(json: JsonValue, path: string): ParavirtParams {
    const o = jsonObject(json, path);
    checkKeys(o, path, ["referenceGuestNs", "offsetNs", "driftPpt", "errorBoundNs", "driftBoundPpt"], ["hostTicksPerSecond"]);
    const p: ParavirtParams = {
      referenceGuestNs: jsonU64(o.referenceGuestNs, `${path}.referenceGuestNs`),
      offsetNs: jsonI64(o.offsetNs, `${path}.offsetNs`),
      driftPpt: jsonI64(o.driftPpt, `${path}.driftPpt`),
      errorBoundNs: jsonU64(o.errorBoundNs, `${path}.errorBoundNs`),
      driftBoundPpt: jsonU64(o.driftBoundPpt, `${path}.driftBoundPpt`),
      hostTicksPerSecond: o.hostTicksPerSecond === undefined || o.hostTicksPerSecond === null ? null : jsonU64(o.hostTicksPerSecond, `${path}.hostTicksPerSecond`),
    };
    checkParams(p, path);
    return p;
  },
  serializeParams(p: ParavirtParams): JsonObject {
    checkParams(p, "params");
    return {
      referenceGuestNs: p.referenceGuestNs.toString(),
      offsetNs: p.offsetNs.toString(),
      driftPpt: p.driftPpt.toString(),
      errorBoundNs: p.errorBoundNs.toString(),
      driftBoundPpt: p.driftBoundPpt.toString(),
      hostTicksPerSecond: p.hostTicksPerSecond === null ? null : p.hostTicksPerSecond.toString(),
    };
  },
  create(p: ParavirtParams): MappingFunction {
    return { forward: (g) => forward(p, g), inverse: (h) => inverse(p, h) };
  },
  createBatch(p: ParavirtParams): BatchMapping {
    // No kernel for the estimate's arithmetic: value by value, but inside the batch path (epoch table, decimal kernels).
    return {
      forward: { kind: "each", convert: outsideAsUndefined((g) => forward(p, g)) },
      inverse: { kind: "each", convert: outsideAsUndefined((h) => inverse(p, h)) },
    };
  },
};

/** A conversion that throws OUT_OF_RANGE outside its domain, as a batch `each` operation wants it: undefined there. */
function outsideAsUndefined(f: (v: bigint) => bigint): (v: bigint) => bigint | undefined {
  return (v) => withinRange(() => f(v));
}

/**
 * The error bound of an estimated mapping at guest time `g`, in the target's
 * units (ns, or counter ticks rounded up, plus one for the tick floor).
 */
export function paravirtBoundAt(p: ParavirtParams, g: bigint): bigint {
  const ns = errorBoundAt(p, g);
  return p.hostTicksPerSecond === null ? ns : -floorDiv(-ns * p.hostTicksPerSecond, NS_PER_S) + 1n;
}
