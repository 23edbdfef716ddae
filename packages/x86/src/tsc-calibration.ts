/**
 * Measuring the TSC frequency against CLOCK_MONOTONIC_RAW (live only, needs
 * the native reader). Each sample brackets a monotonic-raw read between two
 * ordered counter reads; the narrowest brackets at the start and at the end
 * of the interval are kept (a preempted read shows up as a wide bracket), and
 * the uncertainty follows from their widths.
 */

/** One bracketed read: counter before, monotonic-raw ns, counter after. */
export interface CounterPair {
  readonly before: bigint;
  readonly rawNs: bigint;
  readonly after: bigint;
}

/** A measured frequency with its uncertainty. */
export interface MeasuredFrequency {
  readonly hz: number;
  /** Half-width of the interval the true ratio lies in, in Hz. */
  readonly uncertaintyHz: number;
  readonly intervalNs: number;
  /** Bracket widths (counter ticks) of the two pairs used. */
  readonly bracketTicks: readonly [number, number];
}

function narrowest(pairs: readonly CounterPair[]): CounterPair {
  let best = pairs[0] as CounterPair;
  for (const p of pairs) if (p.after - p.before < best.after - best.before) best = p;
  return best;
}

/**
 * Frequency from two groups of pairs (start, end). With brackets of widths
 * w0, w1 ticks, the counter at the raw reads is known to ±w/2, and each raw
 * read is truncated to 1 ns, so
 * `f = Δticks / Δns × 1e9 ± ((w0 + w1)/2 / Δns + f × 2 / Δns) × 1e9`.
 * Pure: tested on synthetic pairs.
 */
export function frequencyFromPairs(start: readonly CounterPair[], end: readonly CounterPair[]): MeasuredFrequency {
  if (start.length === 0 || end.length === 0) throw new RangeError("frequencyFromPairs needs at least one pair at each end");
  const a = narrowest(start);
  const b = narrowest(end);
  const w0 = Number(a.after - a.before);
  const w1 = Number(b.after - b.before);
  // Midpoints doubled, to stay in integers.
  const dTicks2 = b.before + b.after - (a.before + a.after);
  const dNs = Number(b.rawNs - a.rawNs);
  if (dNs <= 0 || dTicks2 <= 0n) throw new RangeError("the counter or CLOCK_MONOTONIC_RAW did not advance");
  const hz = (Number(dTicks2) / 2 / dNs) * 1e9;
  const uncertaintyHz = (((w0 + w1) / 2) / dNs) * 1e9 + (hz * 2) / dNs;
  return { hz, uncertaintyHz, intervalNs: dNs, bracketTicks: [w0, w1] };
}

/** The native calls calibration needs. */
export interface PairReader {
  readCounterPair(out: BigUint64Array): void;
}

function sample(reader: PairReader, n: number): CounterPair[] {
  const buf = new BigUint64Array(3);
  const out: CounterPair[] = [];
  for (let i = 0; i < n; i++) {
    reader.readCounterPair(buf);
    out.push({ before: buf[0] as bigint, rawNs: buf[1] as bigint, after: buf[2] as bigint });
  }
  return out;
}

/**
 * Measures the counter's frequency over `intervalMs` (blocking: a sleep, not
 * a spin), taking `samples` pairs at each end.
 */
export function measureCounterFrequency(reader: PairReader, intervalMs = 120, samples = 16): MeasuredFrequency {
  const start = sample(reader, samples);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, intervalMs);
  const end = sample(reader, samples);
  return frequencyFromPairs(start, end);
}
