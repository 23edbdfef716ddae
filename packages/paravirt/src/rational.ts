/**
 * Exact rationals over bigint, for the estimator's geometry (lines through
 * sample bounds): every comparison that decides the error bound is exact.
 * Denominators are kept positive; values are reduced only where they grow.
 */
export interface Rational {
  readonly n: bigint;
  /** Always > 0. */
  readonly d: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** n/d, normalised (d > 0, lowest terms). @throws RangeError on d = 0 */
export function rat(n: bigint, d: bigint = 1n): Rational {
  if (d === 0n) throw new RangeError("rational with denominator 0");
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

export function add(a: Rational, b: Rational): Rational {
  return rat(a.n * b.d + b.n * a.d, a.d * b.d);
}

export function sub(a: Rational, b: Rational): Rational {
  return rat(a.n * b.d - b.n * a.d, a.d * b.d);
}

export function mul(a: Rational, b: Rational): Rational {
  return rat(a.n * b.n, a.d * b.d);
}

/** Sign of a − b: −1, 0 or 1. */
export function cmp(a: Rational, b: Rational): number {
  const x = a.n * b.d - b.n * a.d;
  return x < 0n ? -1 : x > 0n ? 1 : 0;
}

export function min(a: Rational, b: Rational): Rational {
  return cmp(a, b) <= 0 ? a : b;
}

export function max(a: Rational, b: Rational): Rational {
  return cmp(a, b) >= 0 ? a : b;
}

/** ⌊a⌋ (toward −∞). */
export function floor(a: Rational): bigint {
  const q = a.n / a.d;
  return a.n < 0n && q * a.d !== a.n ? q - 1n : q;
}

/** ⌈a⌉ (toward +∞). */
export function ceil(a: Rational): bigint {
  return -floor({ n: -a.n, d: a.d });
}

/** Nearest integer, halves away from zero. */
export function round(a: Rational): bigint {
  return a.n < 0n ? -floor({ n: -a.n * 2n + a.d, d: a.d * 2n }) : floor({ n: a.n * 2n + a.d, d: a.d * 2n });
}

/** An approximation for display (not for decisions). */
export function toNumber(a: Rational): number {
  const q = a.n / a.d;
  const r = a.n - q * a.d;
  return Number(q) + Number(r) / Number(a.d);
}

/** ⌊n / d⌋ for bigints, d > 0. */
export function floorDiv(n: bigint, d: bigint): bigint {
  return floor({ n, d });
}

/** ⌈n / d⌉ for bigints, d > 0. */
export function ceilDiv(n: bigint, d: bigint): bigint {
  return ceil({ n, d });
}
