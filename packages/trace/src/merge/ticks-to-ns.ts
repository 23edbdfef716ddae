/**
 * `floor(ticks × 10^9 / hz)` for the merge's writers that need nanoseconds
 * (Perfetto, Chrome JSON) when the target clock counts ticks — exact for every
 * u64, and cheap for the values traces hold.
 *
 * The fraction 10^9/hz is reduced first (2 GHz → 1/2, 2.4 GHz → 5/12). While
 * `ticks × num` stays below 2^53 the quotient is computed on doubles: both
 * operands are exact integers below 2^53, and a correctly rounded quotient of
 * such integers never rounds up across an integer (a non-integer quotient is at
 * least 1/den away from one, more than half its ulp), so its floor is exact.
 * Larger values take the BigInt path.
 */

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The conversion for a clock of `hz` ticks per second.
 * @throws RangeError unless `hz` is positive
 */
export function ticksToNanoseconds(hz: bigint): (ticks: bigint) => bigint {
  if (hz <= 0n) throw new RangeError(`ticks per second must be positive, got ${hz}`);
  const g = gcd(1_000_000_000n, hz);
  const numBig = 1_000_000_000n / g;
  const denBig = hz / g;
  const slow = (t: bigint): bigint => (t * numBig) / denBig;
  if (denBig > BigInt(Number.MAX_SAFE_INTEGER)) return slow;
  const num = Number(numBig);
  const den = Number(denBig);
  // The largest tick count whose product with num stays below 2^53.
  const limit = Math.floor(Number.MAX_SAFE_INTEGER / num);
  return (t) => {
    const n = Number(t);
    return n >= 0 && n <= limit ? BigInt(Math.floor((n * num) / den)) : slow(t);
  };
}
