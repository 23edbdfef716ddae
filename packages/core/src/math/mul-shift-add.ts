import { ClocksourceError } from "../errors.js";
import { assertU64, wrapU64 } from "./u64.js";
import { runChunked, u64Kernels } from "./wasm-u64-kernels.js";

/**
 * Reference: `((x × mult) >> shift) + add` mod 2^64 with the full 128-bit
 * product — the form of KVM's TSC scaling (`guest = ((host × ratio) >> frac) + offset`).
 */
export function mulShiftAdd(x: bigint, mult: bigint, shift: number, add: bigint): bigint {
  return wrapU64(((assertU64(x, "value") * mult) >> BigInt(shift)) + add);
}

function check(mult: bigint, shift: number, add: bigint): void {
  assertU64(mult, "mult");
  assertU64(add, "add");
  if (!Number.isInteger(shift) || shift < 0 || shift > 63) throw new ClocksourceError("INVALID_ARGUMENT", `shift must be in 0..63, got ${shift}`);
}

/**
 * Batch {@link mulShiftAdd} over a `BigUint64Array`, bit-identical to the
 * reference, through the WebAssembly kernel (BigInt per value where
 * WebAssembly is unavailable). `input` and `output` may be the same array.
 */
export function mulShiftAddBatch(input: BigUint64Array, mult: bigint, shift: number, add: bigint, output: BigUint64Array = input): BigUint64Array {
  check(mult, shift, add);
  if (output.length < input.length) throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
  const k = u64Kernels();
  if (!k) {
    for (let i = 0; i < input.length; i++) output[i] = mulShiftAdd(input[i] as bigint, mult, shift, add);
    return output;
  }
  const s = BigInt(shift);
  // The kernel's i64 parameters are signed; the bit pattern is what matters.
  const m = BigInt.asIntN(64, mult);
  const a = BigInt.asIntN(64, add);
  runChunked(k.memory, input, output, (n) => k.mulShiftAdd(0, n, m, s, a));
  return output;
}
