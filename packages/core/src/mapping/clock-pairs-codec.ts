/**
 * Mappings between two clocks of one machine, fitted from pairs read back to
 * back (a counter and CLOCK_MONOTONIC, say): the kind `clock-pairs`.
 *
 * Params: `{ "fromRef": "<u64>", "toRef": "<u64>", "num": "<u64>", "den": "<u64>" }`.
 * Forward: `to = toRef + ⌊(from − fromRef) × num / den⌋` (the floor of the
 * exact line, on either side of the reference). Inverse: the smallest `from`
 * whose forward value is ≥ the input, `fromRef + ⌈(to − toRef) × den / num⌉`.
 * Both fail with `OUT_OF_RANGE` where the result leaves the u64 range. The
 * epoch's `errorBound` (in `to` units) says how far the true clock may lie
 * from the line at the sampled points: half the read window plus the fit's
 * residual; drift between the samples is not in it, so record over the span
 * of the traces the mapping serves.
 */
import { ClocksourceError } from "../errors.js";
import { U64_MAX } from "../math/u64.js";
import { checkKeys, jsonObject, jsonU64, mappingError, type JsonObject, type JsonValue, type MappingCodec, type MappingFunction } from "./mapping-file.js";

/** The kind name of same-machine clock-pair mappings. */
export const CLOCK_PAIRS_KIND = "clock-pairs";

/** One fitted line. */
export interface ClockPairsParams {
  readonly fromRef: bigint;
  readonly toRef: bigint;
  /** Slope numerator (`to` units per `den` `from` units); at least 1. */
  readonly num: bigint;
  readonly den: bigint;
}

/** ⌊a / b⌋ for b > 0. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** The forward map, exact. @throws ClocksourceError `OUT_OF_RANGE` */
export function clockPairsForward(p: ClockPairsParams, from: bigint): bigint {
  const to = p.toRef + floorDiv((from - p.fromRef) * p.num, p.den);
  if (to < 0n || to > U64_MAX) throw new ClocksourceError("OUT_OF_RANGE", `${from} maps outside the u64 range of the target clock`);
  return to;
}

/** The smallest `from` whose forward image is ≥ `to`. @throws ClocksourceError `OUT_OF_RANGE` */
export function clockPairsInverse(p: ClockPairsParams, to: bigint): bigint {
  const from = p.fromRef - floorDiv(-(to - p.toRef) * p.den, p.num);
  if (from < 0n) {
    // Every u64 source maps at or above `to`: the smallest is 0, if 0's image is ≥ to.
    if (clockPairsForward(p, 0n) >= to) return 0n;
  }
  if (from < 0n || from > U64_MAX) throw new ClocksourceError("OUT_OF_RANGE", `${to} is outside the image of the u64 source clock`);
  return from;
}

function check(p: ClockPairsParams, path: string): void {
  if (p.num === 0n) throw mappingError(`${path}.num`, "must be at least 1");
  if (p.den === 0n) throw mappingError(`${path}.den`, "must be at least 1");
}

export const clockPairsCodec: MappingCodec<ClockPairsParams> = {
  kind: CLOCK_PAIRS_KIND,
  description: "two clocks of one machine: to = toRef + (from − fromRef) × num / den, fitted from pairs read back to back",
  exact: false,
  parseParams(json: JsonValue, path: string): ClockPairsParams {
    const o = jsonObject(json, path);
    checkKeys(o, path, ["fromRef", "toRef", "num", "den"]);
    const p = { fromRef: jsonU64(o.fromRef, `${path}.fromRef`), toRef: jsonU64(o.toRef, `${path}.toRef`), num: jsonU64(o.num, `${path}.num`), den: jsonU64(o.den, `${path}.den`) };
    check(p, path);
    return p;
  },
  serializeParams(p: ClockPairsParams): JsonObject {
    check(p, "params");
    return { fromRef: p.fromRef.toString(), toRef: p.toRef.toString(), num: p.num.toString(), den: p.den.toString() };
  },
  create(p: ClockPairsParams): MappingFunction {
    return { forward: (v) => clockPairsForward(p, v), inverse: (v) => clockPairsInverse(p, v) };
  },
};

/** One back-to-back reading: the counter before and after, and the other clock read between them. */
export interface ClockPair {
  readonly before: bigint;
  readonly after: bigint;
  readonly clock: bigint;
}

/** A fitted line, the error bound at the samples (in the clock's units) and what was kept. */
export interface ClockPairsFit {
  readonly params: ClockPairsParams;
  readonly errorBound: bigint;
  readonly kept: number;
  readonly minWindow: bigint;
}

/**
 * Fits a line through clock pairs: keeps the pairs whose read window is at
 * most twice the smallest (the others were interrupted), draws the line
 * through the first and last kept pairs' midpoints, and bounds the error by
 * the worst kept pair: the clock may have been read anywhere in the window,
 * so the bound covers the line over the whole window.
 * @throws ClocksourceError `INVALID_ARGUMENT` with fewer than two usable pairs
 */
export function fitClockPairs(pairs: readonly ClockPair[]): ClockPairsFit {
  const ok = pairs.filter((p) => p.after >= p.before);
  if (ok.length < 2) throw new ClocksourceError("INVALID_ARGUMENT", `a fit needs two or more pairs whose counter did not go back (have ${ok.length})`);
  let minWindow = ok[0]!.after - ok[0]!.before;
  for (const p of ok) if (p.after - p.before < minWindow) minWindow = p.after - p.before;
  const limit = minWindow * 2n + 1n;
  const kept = ok.filter((p) => p.after - p.before <= limit);
  const a = kept[0] as ClockPair;
  const b = kept[kept.length - 1] as ClockPair;
  // Midpoints doubled, so the slope stays an exact ratio of integers.
  const ma2 = a.before + a.after;
  const mb2 = b.before + b.after;
  if (mb2 <= ma2 || b.clock <= a.clock) throw new ClocksourceError("INVALID_ARGUMENT", "the pairs span no time: sample over a longer duration");
  const params: ClockPairsParams = { fromRef: ma2 / 2n, toRef: a.clock, num: 2n * (b.clock - a.clock), den: mb2 - ma2 };
  let bound = 0n;
  for (const p of kept) {
    for (const c of [p.before, p.after]) {
      const line = params.toRef + floorDiv((c - params.fromRef) * params.num, params.den);
      const d = line > p.clock ? line - p.clock : p.clock - line;
      if (d > bound) bound = d;
    }
  }
  // One more unit for the floor in the forward map.
  return { params, errorBound: bound + 1n, kept: kept.length, minWindow };
}
