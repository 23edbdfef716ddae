import { ClocksourceError } from "../errors.js";
import { assertU64, U64_MAX, wrapU64 } from "./u64.js";
import { prepareBatchOp } from "./batch-ops.js";
import { KERNEL_BATCH, REGION } from "./wasm-kernel-layout.js";
import { runChunked, u64Kernels, type U64Kernels } from "./wasm-u64-kernels.js";
import { inPlaceTarget } from "./kernel-memory.js";

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
 * An `output` from `allocU64Batch` is converted in place, without copying
 * each value into the kernels' memory and back.
 */
export function mulShiftAddBatch(input: BigUint64Array, mult: bigint, shift: number, add: bigint, output: BigUint64Array = input): BigUint64Array {
  check(mult, shift, add);
  if (output.length < input.length) throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
  const s = BigInt(shift);
  // The kernel's i64 parameters are signed; the bit pattern is what matters.
  const m = BigInt.asIntN(64, mult);
  const a = BigInt.asIntN(64, add);
  const here = inPlaceTarget(input, output);
  if (here) {
    // Never fails, so the status region is never written: one call for the whole array.
    here.kernels.mulShiftAddAll(here.ptr, input.length, REGION.status, 0, -1, m, s, a);
    return output;
  }
  const k = u64Kernels();
  if (!k) {
    for (let i = 0; i < input.length; i++) output[i] = mulShiftAdd(input[i] as bigint, mult, shift, add);
    return output;
  }
  // The kernel returns its failures (never any here), not a count converted: the runner gets nothing back.
  runChunked(k.memory, input, output, (n) => {
    k.mulShiftAddAll(REGION.values, n, REGION.status, 0, -1, m, s, a);
  });
  return output;
}

/**
 * Reference: the exact inverse of {@link mulShiftAdd} for the increasing
 * part — the smallest x in [0, 2^64) with `⌊x × mult / 2^shift⌋ ≥ u`, where
 * `u = (y − add) mod 2^64`, i.e. `⌈u × 2^shift / mult⌉`; undefined when no
 * such x exists (`u × 2^shift > mult × (2^64 − 1)`). KVM's guest → host TSC
 * is this with `mult` = the ratio, `shift` = its fraction bits, `add` = the offset.
 * @throws ClocksourceError `INVALID_ARGUMENT` for mult 0 or a shift outside 0..63
 */
export function mulShiftAddInverse(y: bigint, mult: bigint, shift: number, add: bigint): bigint | undefined {
  check(mult, shift, add);
  if (mult === 0n) throw new ClocksourceError("INVALID_ARGUMENT", "mult must be at least 1");
  const x = wrapU64(assertU64(y, "value") - add) << BigInt(shift);
  if (x > U64_MAX * mult) return undefined;
  return (x + mult - 1n) / mult;
}

/**
 * Batch {@link mulShiftAddInverse} over a `BigUint64Array` on the WebAssembly
 * kernel (BigInt per value where WebAssembly is unavailable), bit-identical to
 * the reference. `input` and `output` may be the same array. A value without
 * a result is left as it was in `output`; every other value is converted.
 * An `output` from `allocU64Batch` is converted in place, without copying
 * each value into the kernels' memory and back.
 * @returns the index of the first value without a result, or -1
 */
export function mulShiftAddInverseBatch(input: BigUint64Array, mult: bigint, shift: number, add: bigint, output: BigUint64Array = input): number {
  check(mult, shift, add);
  if (mult === 0n) throw new ClocksourceError("INVALID_ARGUMENT", "mult must be at least 1");
  if (output.length < input.length) throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
  const here = inPlaceTarget(input, output);
  if (here) return inverseInPlace(here.kernels, here.ptr, input.length, mult, shift, add);
  const k = u64Kernels();
  let first = -1;
  if (!k) {
    for (let i = 0; i < input.length; i++) {
      const x = input[i] as bigint;
      const r = mulShiftAddInverse(x, mult, shift, add);
      output[i] = r ?? x;
      if (r === undefined && first < 0) first = i;
    }
    return first;
  }
  const op = prepareBatchOp({ kind: "mulShiftAddInverse", mult, shift, add }, k);
  const status = new Int32Array(k.memory.buffer, REGION.status, KERNEL_BATCH);
  let start = 0;
  runChunked(k.memory, input, output, (n) => {
    status.fill(0, 0, n);
    if (op.run(REGION.values, REGION.status, n, 0, -1, false) > 0 && first < 0) first = start + status.subarray(0, n).indexOf(-1);
    start += n;
  });
  return first;
}

/**
 * mulShiftAddInverseBatch on `n` values at `ptr` in `k`'s own memory. The
 * kernel marks failures in the status region, which holds one chunk: so one
 * call per chunk. The status region of such a memory is kept all zero
 * between calls (only failures write it, and they are wiped), so a chunk
 * without failures costs nothing besides the kernel.
 */
function inverseInPlace(k: U64Kernels, ptr: number, n: number, mult: bigint, shift: number, add: bigint): number {
  const op = prepareBatchOp({ kind: "mulShiftAddInverse", mult, shift, add }, k);
  const status = new Int32Array(k.memory.buffer, REGION.status, KERNEL_BATCH);
  let first = -1;
  for (let start = 0; start < n; start += KERNEL_BATCH) {
    const c = Math.min(KERNEL_BATCH, n - start);
    if (op.run(ptr + start * 8, REGION.status, c, 0, -1, false) > 0) {
      if (first < 0) first = start + status.subarray(0, c).indexOf(-1);
      status.fill(0, 0, c);
    }
  }
  return first;
}
