/**
 * 32-bit limb arithmetic on IEEE doubles, for fast paths that must not
 * allocate a BigInt per value. Every function is exact: intermediate values
 * stay below 2^53.
 */

const TWO32 = 4294967296;

/** True on little-endian hosts, where a u64 array element's low word comes first. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Full 32 × 32 → 64-bit product of two u32 values. Writes the high and low
 * words into `out[0]` (high) and `out[1]` (low).
 */
export function mulU32Wide(x: number, y: number, out: Float64Array | number[]): void {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const p0 = xl * y; // < 2^48
  const p1 = xh * y; // < 2^48
  // `&` and `>>> 0` are exact modulo 2^32 for integers below 2^53 (and cheaper than `%`).
  const p1lo = p1 & 0xffff;
  const p1hi = (p1 - p1lo) / 65536; // < 2^32
  const s = p0 + p1lo * 65536; // < 2^49
  const sLo = s >>> 0;
  out[0] = (s - sLo) / TWO32 + p1hi;
  out[1] = sLo;
}

/**
 * Right-shifts the unsigned integer held in little-endian u32 words
 * `words[0..n)` by `shift` bits and returns words `k` (0-based) of the result.
 * Bits shifted in from beyond the last word are zero.
 */
export function shiftedWord(words: ArrayLike<number>, shift: number, k: number): number {
  const wordShift = shift >>> 5;
  const bitShift = shift & 31;
  const i = k + wordShift;
  const lo = i < words.length ? (words[i] as number) : 0;
  if (bitShift === 0) return lo >>> 0;
  const hi = i + 1 < words.length ? (words[i + 1] as number) : 0;
  return ((lo >>> bitShift) | (hi << (32 - bitShift))) >>> 0;
}
