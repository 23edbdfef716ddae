/**
 * The guest → host offset estimator, with an error bound that provably holds.
 *
 * Sign convention: offset θ = host − guest (add it to a guest time to get host
 * time); drift = dθ/d(guest) (positive: the host clock runs faster).
 *
 * Per exchange (guest send t1, host receive t2, host transmit t2', guest
 * receive t3): θ̂ = ((t2 − t1) + (t2' − t3)) / 2, delay δ = (t3 − t1) − (t2' − t2).
 * Because the host stamps fall between the guest's send and receive, the true
 * offset at the exchange's midpoint lies in [t2' − t3 − w, t2 − t1 + w] — a
 * window of width δ around θ̂, widened by w = ⌈E·(t3 − t1)/2⌉ for what the
 * offset can change within one exchange when the drift is at most E.
 *
 * Fit: keep the minimum-delay sample of each time bucket; the drift is the
 * Theil–Sen slope through them (the median of pairwise slopes of the window
 * centres), clamped into the range of slopes the bound allows. Bound: every
 * line (offset, drift) consistent with EVERY sample's window and |drift| ≤ E
 * forms a convex polygon; its extreme values at a given time bound the truth
 * there. It is computed exactly (bigint rationals) from the convex hulls of
 * the window ends. The offset is reported at the reference time where that
 * polygon is narrowest, as the middle of its range there; the error bound is
 * the distance to the range's far end, and away from the reference it grows
 * by the drift bound (the distance from the reported drift to the polygon's
 * extreme slopes). See
 * docs/paravirt.md for the argument.
 */
import { ClocksourceError } from "@clocksource/core/mapping";
import { ceilDiv, floorDiv, rat, round, type Rational } from "./rational.js";

/** One request/response: t1, t3 on the guest clock; t2, t2x (receive, transmit) on the host clock; all ns. */
export interface Exchange {
  readonly t1: bigint;
  readonly t2: bigint;
  readonly t2x: bigint;
  readonly t3: bigint;
}

export interface EstimatorOptions {
  /**
   * The largest drift between the two clocks believed possible, in ppm
   * (default 1000: each of two NTP-disciplined clocks slews by at most 500 ppm).
   * The bound holds only if the true drift is within it.
   */
  readonly maxDriftPpm?: number;
  /** Time buckets for minimum-delay selection (default ⌈√n⌉, at most 64). */
  readonly buckets?: number;
  /** Extra width added to every window, in ns (e.g. 1 when host ticks were rounded to ns). */
  readonly stampSlackNs?: bigint;
}

/** One exchange as the estimator saw it. */
export interface SampleView {
  /** Its index in the input. */
  readonly index: number;
  /** ⌊(t1 + t3) / 2⌋. */
  readonly midGuestNs: bigint;
  /** The true offset at the midpoint is in [lowNs, highNs]. */
  readonly lowNs: bigint;
  readonly highNs: bigint;
  readonly delayNs: bigint;
  /** Chosen as its bucket's minimum-delay sample (used by the fit). */
  readonly kept: boolean;
}

/** The polygon of lines consistent with every window, by its vertices: θ(g) = (a + s·2(g − g0)) / (2·den) + base. */
export interface FeasibleLines {
  readonly base: bigint;
  readonly g0: bigint;
  readonly vertices: ReadonlyArray<{ readonly a: bigint; readonly s: bigint; readonly den: bigint }>;
}

/** The result of {@link estimateOffset}. */
export interface Estimate {
  /** The guest time the offset refers to: a kept sample's midpoint (or the last sample's) where the consistent lines agree best. */
  readonly referenceGuestNs: bigint;
  /** host − guest at the reference, ns. */
  readonly offsetNs: bigint;
  /** |true offset − offsetNs| ≤ errorBoundNs at the reference. */
  readonly errorBoundNs: bigint;
  /** The true offset at the reference lies in [lowNs, highNs] (tighter, asymmetric). */
  readonly lowNs: bigint;
  readonly highNs: bigint;
  /** Drift in parts per 10^12 (exact value the mapping uses). */
  readonly driftPpt: bigint;
  /** |true drift − driftPpt| ≤ driftBoundPpt. */
  readonly driftBoundPpt: bigint;
  readonly driftPpm: number;
  readonly driftBoundPpm: number;
  /** False when no constant drift within ±maxDriftPpm fits every window (a clock was stepped or slewed); the bound then assumes only |drift| ≤ maxDriftPpm. */
  readonly consistent: boolean;
  readonly warnings: readonly string[];
  readonly samplesTotal: number;
  readonly samplesValid: number;
  /** Samples kept by minimum-delay selection and used by the fit. */
  readonly samplesUsed: number;
  readonly firstGuestNs: bigint;
  readonly lastGuestNs: bigint;
  readonly delayNs: { readonly min: bigint; readonly p50: bigint; readonly p99: bigint; readonly max: bigint };
  readonly maxDriftPpm: number;
  readonly samples: readonly SampleView[];
  /** The polygon of consistent lines (null when inconsistent). */
  readonly feasible: FeasibleLines | null;
}

const PPT = 1_000_000_000_000n;

interface Point {
  readonly x: bigint;
  readonly y: bigint;
}

function cross(o: Point, a: Point, b: Point): bigint {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/** Upper hull (left to right) of points sorted by x; for equal x only the highest counts. */
function upperHull(sorted: readonly Point[]): Point[] {
  const h: Point[] = [];
  for (const p of sorted) {
    const last = h[h.length - 1];
    if (last && last.x === p.x) {
      if (p.y <= last.y) continue;
      h.pop();
    }
    while (h.length >= 2 && cross(h[h.length - 2] as Point, h[h.length - 1] as Point, p) >= 0n) h.pop();
    h.push(p);
  }
  return h;
}

/** Lower hull; for equal x only the lowest counts. */
function lowerHull(sorted: readonly Point[]): Point[] {
  const h: Point[] = [];
  for (const p of sorted) {
    const last = h[h.length - 1];
    if (last && last.x === p.x) {
      if (p.y >= last.y) continue;
      h.pop();
    }
    while (h.length >= 2 && cross(h[h.length - 2] as Point, h[h.length - 1] as Point, p) <= 0n) h.pop();
    h.push(p);
  }
  return h;
}

interface Vertex {
  /** Line Y = (a + s·X) / den. */
  readonly a: bigint;
  readonly s: bigint;
  readonly den: bigint;
}

function feasible(v: Vertex, lows: readonly Point[], highs: readonly Point[], e: Rational): boolean {
  // |s/den| ≤ E
  const sAbs = v.s < 0n ? -v.s : v.s;
  if (sAbs * e.d > e.n * v.den) return false;
  for (const p of lows) if (v.a + v.s * p.x < p.y * v.den) return false;
  for (const p of highs) if (v.a + v.s * p.x > p.y * v.den) return false;
  return true;
}

/**
 * The vertices of the polygon of lines Y = A + s·X with lows ≤ line ≤ highs at
 * every point and |s| ≤ E. A vertex is where two constraints are tight: a line
 * through two hull points, or a slope limit with one hull point.
 */
function polygonVertices(lows: readonly Point[], highs: readonly Point[], e: Rational): Vertex[] {
  const all = [...lows, ...highs];
  const out: Vertex[] = [];
  for (let i = 0; i < all.length; i++) {
    const p = all[i] as Point;
    for (let j = i + 1; j < all.length; j++) {
      const q = all[j] as Point;
      if (p.x === q.x) continue;
      const [l, r] = p.x < q.x ? [p, q] : [q, p];
      const dx = r.x - l.x;
      const dy = r.y - l.y;
      const v = { a: l.y * dx - dy * l.x, s: dy, den: dx };
      if (feasible(v, lows, highs, e)) out.push(v);
    }
  }
  for (const sign of [-1n, 1n]) {
    const sn = sign * e.n;
    const den = e.d;
    let lo: bigint | null = null;
    let hi: bigint | null = null;
    for (const p of lows) {
      const a = p.y * den - sn * p.x;
      if (lo === null || a > lo) lo = a;
    }
    for (const p of highs) {
      const a = p.y * den - sn * p.x;
      if (hi === null || a < hi) hi = a;
    }
    if (lo !== null && hi !== null && lo <= hi) out.push({ a: lo, s: sn, den }, { a: hi, s: sn, den });
  }
  return out;
}

function cmpFrac(an: bigint, ad: bigint, bn: bigint, bd: bigint): number {
  const x = an * bd - bn * ad;
  return x < 0n ? -1 : x > 0n ? 1 : 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

function percentile(sorted: readonly bigint[], p: number): bigint {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] as bigint;
}

/** E as an exact rational in parts per 10^12. */
function driftLimit(ppm: number): Rational {
  if (!Number.isFinite(ppm) || ppm <= 0 || ppm > 100_000) throw new ClocksourceError("INVALID_ARGUMENT", `maxDriftPpm must be in (0, 100000], got ${ppm}`);
  return rat(BigInt(Math.round(ppm * 1e6)), PPT);
}

interface Prepared {
  readonly index: number;
  readonly ex: Exchange;
  readonly x: bigint;
  readonly yl: bigint;
  readonly yh: bigint;
  readonly delay: bigint;
}

/**
 * Estimates offset and drift from exchanges, with bounds. Exchanges whose
 * stamps are out of order (t3 < t1, t2' < t2, or a round trip shorter than the
 * host's processing time by more than the drift allowance can explain) are
 * counted and left out. A slightly negative delay is kept: a guest clock
 * running slow measures a round trip shorter than the host's processing time.
 * @throws ClocksourceError `INVALID_ARGUMENT` when no exchange is usable
 */
export function estimateOffset(exchanges: readonly Exchange[], options: EstimatorOptions = {}): Estimate {
  const maxDriftPpm = options.maxDriftPpm ?? 1000;
  const e = driftLimit(maxDriftPpm);
  const slack = options.stampSlackNs ?? 0n;
  const warnings: string[] = [];

  const valid = exchanges
    .map((ex, index) => ({ ex, index, delay: ex.t3 - ex.t1 - (ex.t2x - ex.t2) }))
    // The sample's window (see `prepared`) is non-empty exactly when delay + 2w ≥ 0.
    .filter(({ ex, delay }) => ex.t3 >= ex.t1 && ex.t2x >= ex.t2 && delay + 2n * (ceilDiv(e.n * (ex.t3 - ex.t1), 2n * e.d) + slack) >= 0n)
    .sort((a, b) => (a.ex.t1 + a.ex.t3 < b.ex.t1 + b.ex.t3 ? -1 : a.ex.t1 + a.ex.t3 > b.ex.t1 + b.ex.t3 ? 1 : 0));
  if (valid.length === 0) {
    throw new ClocksourceError("INVALID_ARGUMENT", exchanges.length === 0 ? "no exchanges to estimate from" : `none of the ${exchanges.length} exchanges is usable (stamps out of order)`);
  }
  if (valid.length < exchanges.length) warnings.push(`${exchanges.length - valid.length} exchange(s) left out: stamps out of order`);

  const lastEx = (valid[valid.length - 1] as (typeof valid)[number]).ex;
  const g0 = (lastEx.t1 + lastEx.t3) / 2n;
  let best = valid[0] as (typeof valid)[number];
  for (const v of valid) if (v.delay < best.delay) best = v;
  // Work relative to one sample's offset so the numbers stay small.
  const base = floorDiv(best.ex.t2 - best.ex.t1 + (best.ex.t2x - best.ex.t3), 2n);

  const prepared: Prepared[] = valid.map(({ ex, index, delay }) => {
    const w = ceilDiv(e.n * (ex.t3 - ex.t1), 2n * e.d) + slack;
    const low = ex.t2x - ex.t3 - w - base;
    const high = ex.t2 - ex.t1 + w - base;
    return { index, ex, x: ex.t1 + ex.t3 - 2n * g0, yl: 2n * low, yh: 2n * high, delay };
  });

  // Minimum-delay selection per time bucket.
  const n = prepared.length;
  const first = prepared[0] as Prepared;
  const last = prepared[n - 1] as Prepared;
  const nb = BigInt(Math.max(1, Math.min(options.buckets ?? Math.ceil(Math.sqrt(n)), 64, n)));
  const span = last.x - first.x + 1n;
  const chosen = new Map<bigint, Prepared>();
  for (const p of prepared) {
    const b = ((p.x - first.x) * nb) / span;
    const cur = chosen.get(b);
    if (!cur || p.delay < cur.delay) chosen.set(b, p);
  }
  const kept = [...chosen.values()].sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0));
  const keptSet = new Set(kept.map((k) => k.index));

  // The polygon of consistent lines, from every sample's window.
  let lows = upperHull(prepared.map((p) => ({ x: p.x, y: p.yl })));
  let highs = lowerHull(prepared.map((p) => ({ x: p.x, y: p.yh })));
  if (lows.length + highs.length > 64) {
    // Pathological hulls: the kept samples' windows alone still give a valid (looser) bound.
    lows = upperHull(kept.map((p) => ({ x: p.x, y: p.yl })));
    highs = lowerHull(kept.map((p) => ({ x: p.x, y: p.yh })));
  }
  const vertices = polygonVertices(lows, highs, e);
  const consistent = vertices.length > 0;

  // Drift: Theil–Sen over the kept samples (window centres), in floating
  // point — it only proposes a slope; every bound below is exact and is
  // measured from the values finally reported.
  const cs = kept.map((k) => ({ x: Number(k.x), c: Number(k.yl + k.yh) / 2 }));
  const slopes: number[] = [];
  for (let i = 0; i < cs.length; i++) {
    for (let j = i + 1; j < cs.length; j++) {
      const a = cs[i] as { x: number; c: number };
      const b = cs[j] as { x: number; c: number };
      if (a.x !== b.x) slopes.push((b.c - a.c) / (b.x - a.x));
    }
  }
  const eNum = Number(e.n) / Number(e.d);
  const sTs = Math.max(-eNum, Math.min(eNum, slopes.length > 0 ? median(slopes) : 0));
  let slope = rat(BigInt(Math.round(sTs * 1e12)), PPT);

  // Reference time (X units, even so it is a whole guest ns), the range of
  // Y = 2(θ − base) there, and the range of slopes.
  let xRef = 0n;
  let lowY: Rational;
  let highY: Rational;
  let sLow: Rational;
  let sHigh: Rational;
  if (consistent) {
    sLow = rat((vertices[0] as Vertex).s, (vertices[0] as Vertex).den);
    sHigh = sLow;
    for (const v of vertices) {
      const s = rat(v.s, v.den);
      if (cmpFrac(s.n, s.d, sLow.n, sLow.d) < 0) sLow = s;
      if (cmpFrac(s.n, s.d, sHigh.n, sHigh.d) > 0) sHigh = s;
    }
    if (cmpFrac(slope.n, slope.d, sLow.n, sLow.d) < 0) slope = sLow;
    if (cmpFrac(slope.n, slope.d, sHigh.n, sHigh.d) > 0) slope = sHigh;
    const rangeAt = (x: bigint): [Rational, Rational] => {
      let lo: Rational | null = null;
      let hi: Rational | null = null;
      for (const v of vertices) {
        const y = rat(v.a + v.s * x, v.den);
        if (lo === null || cmpFrac(y.n, y.d, lo.n, lo.d) < 0) lo = y;
        if (hi === null || cmpFrac(y.n, y.d, hi.n, hi.d) > 0) hi = y;
      }
      return [lo as Rational, hi as Rational];
    };
    // Refer the estimate to where the lines agree best (narrowest range):
    // its bound is then the tightest, and it widens with the drift bound.
    [lowY, highY] = rangeAt(0n);
    let width = subR(highY, lowY);
    for (const k of kept) {
      const x = 2n * floorDiv(k.x, 2n);
      const [lo, hi] = rangeAt(x);
      const w = subR(hi, lo);
      if (cmpFrac(w.n, w.d, width.n, width.d) < 0) {
        [xRef, lowY, highY, width] = [x, lo, hi, w];
      }
    }
  } else {
    // No constant drift fits: fall back to the weaker assumption |drift| ≤ E
    // (not necessarily constant), propagating each window to the reference.
    warnings.push(`no constant drift within ±${maxDriftPpm} ppm fits every exchange (was a clock stepped or slewed during the session?); the bound assumes only |drift| ≤ ${maxDriftPpm} ppm`);
    let lo: bigint | null = null;
    let hi: bigint | null = null;
    for (const p of prepared) {
      const ax = p.x < 0n ? -p.x : p.x;
      const l = p.yl * e.d - e.n * ax;
      const h = p.yh * e.d + e.n * ax;
      if (lo === null || l > lo) lo = l;
      if (hi === null || h < hi) hi = h;
    }
    if (lo !== null && hi !== null && lo <= hi) {
      lowY = rat(lo, e.d);
      highY = rat(hi, e.d);
    } else {
      warnings.push("the exchanges contradict each other even so; the bound uses only the latest minimum-delay exchange");
      const k = kept[kept.length - 1] as Prepared;
      const ax = k.x < 0n ? -k.x : k.x;
      lowY = rat(k.yl * e.d - e.n * ax, e.d);
      highY = rat(k.yh * e.d + e.n * ax, e.d);
    }
    sLow = rat(-e.n, e.d);
    sHigh = rat(e.n, e.d);
  }

  // Reported values: the offset at the reference is the middle of the range
  // there (to the nearest ns), the drift the proposed slope (to the nearest
  // ppt); the bounds are measured from exactly these.
  const referenceGuestNs = g0 + xRef / 2n;
  const low = rat(lowY.n + 2n * base * lowY.d, 2n * lowY.d);
  const high = rat(highY.n + 2n * base * highY.d, 2n * highY.d);
  const offsetNs = round(rat(low.n * high.d + high.n * low.d, 2n * low.d * high.d));
  const driftPpt = round(mulR(slope, PPT));
  const off = rat(offsetNs);
  const errorBoundNs = maxB(ceilR(subR(high, off)), ceilR(subR(off, low)), 0n);
  const dp = rat(driftPpt, PPT);
  const driftBoundPpt = maxB(ceilR(mulR(subR(sHigh, dp), PPT)), ceilR(mulR(subR(dp, sLow), PPT)), 0n);

  const delays = prepared.map((p) => p.delay).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const samples: SampleView[] = prepared.map((p) => ({
    index: p.index,
    midGuestNs: (p.ex.t1 + p.ex.t3) / 2n,
    lowNs: p.yl / 2n + base,
    highNs: p.yh / 2n + base,
    delayNs: p.delay,
    kept: keptSet.has(p.index),
  }));

  return {
    referenceGuestNs,
    offsetNs,
    errorBoundNs,
    lowNs: floorR(low),
    highNs: ceilR(high),
    driftPpt,
    driftBoundPpt,
    driftPpm: Number(driftPpt) / 1e6,
    driftBoundPpm: Number(driftBoundPpt) / 1e6,
    consistent,
    warnings,
    samplesTotal: exchanges.length,
    samplesValid: n,
    samplesUsed: kept.length,
    firstGuestNs: (first.ex.t1 + first.ex.t3) / 2n,
    lastGuestNs: g0,
    delayNs: { min: delays[0] as bigint, p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: delays[delays.length - 1] as bigint },
    maxDriftPpm,
    samples,
    feasible: consistent ? { base, g0, vertices } : null,
  };
}

function subR(a: Rational, b: Rational): Rational {
  return rat(a.n * b.d - b.n * a.d, a.d * b.d);
}
function mulR(a: Rational, k: bigint): Rational {
  return rat(a.n * k, a.d);
}
function ceilR(a: Rational): bigint {
  return ceilDiv(a.n, a.d);
}
function floorR(a: Rational): bigint {
  return floorDiv(a.n, a.d);
}
function maxB(...xs: bigint[]): bigint {
  return xs.reduce((m, x) => (x > m ? x : m));
}

/** The estimated offset (host − guest) at guest time `g`: offset + drift·(g − reference), floored to ns. */
export function offsetAt(est: Pick<Estimate, "offsetNs" | "driftPpt" | "referenceGuestNs">, g: bigint): bigint {
  return est.offsetNs + floorDiv(est.driftPpt * (g - est.referenceGuestNs), PPT);
}

/**
 * A bound on |true offset − offsetAt(g)|: the bound at the reference plus the
 * drift uncertainty over the distance (plus 1 ns for the floor away from it).
 * Within the session it holds under the estimator's assumptions; beyond it,
 * only while the drift stays what it was.
 */
export function errorBoundAt(est: Pick<Estimate, "errorBoundNs" | "driftBoundPpt" | "referenceGuestNs">, g: bigint): bigint {
  const d = g >= est.referenceGuestNs ? g - est.referenceGuestNs : est.referenceGuestNs - g;
  return d === 0n ? est.errorBoundNs : est.errorBoundNs + ceilDiv(est.driftBoundPpt * d, PPT) + 1n;
}

/**
 * The exact range of offsets the consistent lines allow at guest time `g`
 * (tighter than {@link errorBoundAt}); null when the samples were inconsistent.
 */
export function feasibleRangeAt(est: Pick<Estimate, "feasible">, g: bigint): { low: bigint; high: bigint } | null {
  const f = est.feasible;
  if (!f || f.vertices.length === 0) return null;
  const x = 2n * (g - f.g0);
  let lo: Rational | null = null;
  let hi: Rational | null = null;
  for (const v of f.vertices) {
    const y = rat(v.a + v.s * x, v.den);
    if (lo === null || cmpFrac(y.n, y.d, lo.n, lo.d) < 0) lo = y;
    if (hi === null || cmpFrac(y.n, y.d, hi.n, hi.d) > 0) hi = y;
  }
  const l = lo as Rational;
  const h = hi as Rational;
  return { low: floorDiv(l.n, 2n * l.d) + f.base, high: ceilDiv(h.n, 2n * h.d) + f.base };
}
