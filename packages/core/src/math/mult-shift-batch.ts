import { ClocksourceError } from "../errors.js";
import { assertMultShift, scaleTicksReference, type MultShift } from "./mult-shift.js";
import { LITTLE_ENDIAN } from "./u64-limbs.js";
import { runChunked, u64Kernels } from "./wasm-u64-kernels.js";
import { inPlaceTarget } from "./kernel-memory.js";

const TWO16 = 65536;
const TWO32 = 4294967296;

/**
 * Batch form of {@link scaleTicksReference}: `output[i] = (input[i] × mult) >> shift`
 * mod 2^64 for every element, bit-identical to the BigInt reference, without
 * allocating a BigInt per value: the arrays are read and written as 32-bit
 * words and the 96-bit product is built from four 16 × 32-bit partial products,
 * each exact in a double. `input` and `output` may be the same array.
 */
export function scaleTicksBatch(input: BigUint64Array, ms: MultShift, output: BigUint64Array = input): BigUint64Array {
  assertMultShift(ms);
  if (output.length < input.length) {
    throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
  }
  const k = input.length >= 64 ? u64Kernels() : null;
  if (k) {
    const mult = BigInt(ms.mult >>> 0);
    const shift = BigInt(ms.shift);
    // An output from allocU64Batch converts in place, without the copies.
    const here = inPlaceTarget(input, output);
    if (here) here.kernels.scale(here.ptr, input.length, mult, shift);
    else runChunked(k.memory, input, output, (n) => k.scale(0, n, mult, shift));
    return output;
  }
  return scaleTicksBatchJs(input, ms, output);
}

/**
 * The same conversion in plain JavaScript (32-bit words in doubles), used for
 * short arrays and where WebAssembly is unavailable. Exported for its tests.
 */
export function scaleTicksBatchJs(input: BigUint64Array, ms: MultShift, output: BigUint64Array = input): BigUint64Array {
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
  const ml = ms.mult & 0xffff;
  const mh = ms.mult >>> 16;
  const shift = ms.shift;
  const n2 = input.length * 2;
  // The shift is the same for every value: pick the word-level case once.
  const wordShift = shift >= 32;
  const s = shift & 31;
  const left = 32 - s;
  for (let j = 0; j < n2; j += 2) {
    const lo = inW[j] as number;
    const hi = inW[j + 1] as number;
    // P = a + b·2^16 + c·2^32 + d·2^48 with a, b, c, d < 2^48.
    const a = lo * ml;
    const b = lo * mh;
    const c = hi * ml;
    const d = hi * mh;
    // ToUint32 (`>>> 0`, `&`) is exact modulo 2^32 for integers below 2^53,
    // and far cheaper than `%` on doubles.
    const bLo = b & 0xffff;
    const dLo = d & 0xffff;
    const s0 = a + bLo * TWO16;
    const w0 = s0 >>> 0;
    const s1 = (s0 - w0) / TWO32 + (b - bLo) / TWO16 + c + dLo * TWO16;
    const w1 = s1 >>> 0;
    const w2 = ((s1 - w1) / TWO32 + (d - dLo) / TWO16) >>> 0;
    if (!wordShift) {
      if (s === 0) {
        outW[j] = w0;
        outW[j + 1] = w1;
      } else {
        outW[j] = (w0 >>> s) | (w1 << left);
        outW[j + 1] = (w1 >>> s) | (w2 << left);
      }
    } else if (s === 0) {
      outW[j] = w1;
      outW[j + 1] = w2;
    } else {
      outW[j] = (w1 >>> s) | (w2 << left);
      outW[j + 1] = w2 >>> s;
    }
  }
  return output;
}
