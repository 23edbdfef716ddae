import { ClocksourceError } from "./errors.js";
import { assertMultShift, scaleTicksReference, type MultShift } from "./mult-shift.js";
import { LITTLE_ENDIAN, mulU32Wide, shiftedWord } from "./u64-limbs.js";

/**
 * Batch form of {@link scaleTicksReference}: `output[i] = (input[i] × mult) >> shift`
 * mod 2^64 for every element, bit-identical to the BigInt reference, without
 * allocating a BigInt per value (the arrays are read and written as 32-bit words).
 * `input` and `output` may be the same array.
 */
export function scaleTicksBatch(input: BigUint64Array, ms: MultShift, output: BigUint64Array = input): BigUint64Array {
  assertMultShift(ms);
  if (output.length < input.length) {
    throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
  }
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < input.length; i++) output[i] = scaleTicksReference(input[i] as bigint, ms);
    return output;
  }
  const inW = new Uint32Array(input.buffer, input.byteOffset, input.length * 2);
  const outW = new Uint32Array(output.buffer, output.byteOffset, output.length * 2);
  const mult = ms.mult >>> 0;
  const shift = ms.shift;
  const lo = [0, 0];
  const hi = [0, 0];
  const words = [0, 0, 0];
  for (let i = 0, j = 0; i < input.length; i++, j += 2) {
    mulU32Wide(inW[j] as number, mult, lo);
    mulU32Wide(inW[j + 1] as number, mult, hi);
    // 96-bit product: lo + hi × 2^32
    const mid = (lo[0] as number) + (hi[1] as number);
    const midLo = mid % 4294967296;
    words[0] = lo[1] as number;
    words[1] = midLo;
    words[2] = (hi[0] as number) + (mid - midLo) / 4294967296;
    outW[j] = shiftedWord(words, shift, 0);
    outW[j + 1] = shiftedWord(words, shift, 1);
  }
  return output;
}
