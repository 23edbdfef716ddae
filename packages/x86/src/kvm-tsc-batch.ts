/**
 * Batch KVM TSC conversion over `BigUint64Array`, bit-identical to the BigInt
 * reference in kvm-tsc-mapping.ts, without a BigInt per value.
 *
 * KVM's forward map is core's `mulShiftAdd` (128-bit product, shift, add) and
 * its inverse is core's `mulShiftAddInverse` (the smallest host tick whose
 * guest value is ≥ the input: a 128-by-64-bit division after an exact range
 * check). Three backends, the first that is there:
 * - `native`: the optional addon's C loops on the arrays' own memory, with the
 *   compiler's 128-bit integers (about C's own time: no copies, one multiply).
 * - `wasm`: core's WebAssembly kernels. An ordinary array is copied into the
 *   kernels' memory and back one chunk at a time, and the multiply is built
 *   from 32-bit halves; an array made by {@link allocU64Batch} already lives in
 *   kernel memory and converts in place (forward: 1.3 instead of 2.0 ns a value).
 * - `bigint`: the reference, value by value.
 */
import { ClocksourceError, mulShiftAddBatch, mulShiftAddInverseBatch, u64KernelsStatus } from "@clocksource/core/mapping";
import type { NativeBinding } from "@clocksource/native";
import { assertKvmTscParams, type KvmTscParams } from "./kvm-tsc-mapping.js";
import { nativeReader } from "./native-reader.js";

export { allocU64Batch } from "@clocksource/core/mapping";

type NativeBatch = Required<Pick<NativeBinding, "mulShiftAddBatch" | "mulShiftAddInverseBatch">>;

let nativeBatchState: { readonly ops: NativeBatch | null; readonly reason: string | null } | undefined;

let nativeEnabled = true;
const NATIVE_OFF = { ops: null, reason: "turned off by setNativeBatch(false)" } as const;

/**
 * Turns the native batch kernels off (the WebAssembly ones, or the BigInt
 * reference, take over) or back on, for this process; returns the previous
 * setting. For comparing backends, or for a program that must not open the
 * addon. `CLOCKSOURCE_NATIVE=0` turns the addon off altogether.
 */
export function setNativeBatch(enabled: boolean): boolean {
  const was = nativeEnabled;
  nativeEnabled = enabled;
  return was;
}

/** The addon's batch loops, or why there are none (the addon is opened on the first batch call). */
function nativeBatch(): { readonly ops: NativeBatch | null; readonly reason: string | null } {
  if (!nativeEnabled) return NATIVE_OFF;
  if (!nativeBatchState) {
    const r = nativeReader();
    if (!r.ok) nativeBatchState = { ops: null, reason: `native reader unavailable: ${r.reason}` };
    else if (typeof r.native.mulShiftAddBatch !== "function" || typeof r.native.mulShiftAddInverseBatch !== "function") nativeBatchState = { ops: null, reason: "the loaded addon has no batch kernels (built before they existed, or without 128-bit integers)" };
    else nativeBatchState = { ops: r.native as NativeBatch, reason: null };
  }
  return nativeBatchState;
}

/** Why the batch functions fall back to the BigInt reference, or null when they run on native or WebAssembly kernels. */
export function batchFallbackReason(): string | null {
  if (nativeBatch().ops) return null;
  const core = u64KernelsStatus();
  return core.ok ? null : core.reason;
}

/**
 * Which kernels the batch functions run on: the native addon's, else
 * WebAssembly's, else the BigInt reference. {@link batchNativeReason} says why
 * not native.
 */
export function batchBackend(): "native" | "wasm" | "bigint" {
  if (nativeBatch().ops) return "native";
  return u64KernelsStatus().ok ? "wasm" : "bigint";
}

/** Why the batch functions do not run on the native addon, or null when they do. */
export function batchNativeReason(): string | null {
  return nativeBatch().reason;
}

/** What the native loops return, having converted nothing, for an output over the input's memory at another offset. */
const NATIVE_OVERLAP = -2;

const u64 = (v: bigint) => BigInt.asUintN(64, v);

function checkArrays(input: BigUint64Array, output: BigUint64Array): void {
  if (output.length < input.length) throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
}

/**
 * Host TSC → guest TSC for every value: `output[i] = kvmForward(input[i])`.
 * `output` may be `input`. Bit-identical to {@link kvmForward}. On the
 * WebAssembly kernels (no native addon), fastest with `input` = `output` from
 * {@link allocU64Batch} (no copies).
 */
export function kvmForwardBatch(input: BigUint64Array, params: KvmTscParams, output: BigUint64Array = input): BigUint64Array {
  assertKvmTscParams(params);
  checkArrays(input, output);
  const native = nativeBatch().ops;
  // An output over the input's memory at another offset is left to WebAssembly's chunks, which take it.
  if (native && native.mulShiftAddBatch(input, output, params.ratio, params.fracBits, u64(params.offset)) !== NATIVE_OVERLAP) return output;
  return mulShiftAddBatch(input, params.ratio, params.fracBits, u64(params.offset), output);
}

/**
 * Guest TSC → the smallest host TSC whose guest value is ≥ it, for every
 * value (see kvm-tsc-mapping.ts). `output` may be `input`. Bit-identical to
 * {@link kvmInverse}. On the WebAssembly kernels (no native addon), fastest
 * with `input` = `output` from {@link allocU64Batch}.
 * @throws ClocksourceError `OUT_OF_RANGE` naming the first value with no host
 *   tick below 2^64 (elements before it are converted; the rest are unspecified)
 */
export function kvmInverseBatch(input: BigUint64Array, params: KvmTscParams, output: BigUint64Array = input): BigUint64Array {
  assertKvmTscParams(params);
  checkArrays(input, output);
  const native = nativeBatch().ops;
  let bad = native ? native.mulShiftAddInverseBatch(input, output, params.ratio, params.fracBits, u64(params.offset)) : NATIVE_OVERLAP;
  if (bad === NATIVE_OVERLAP) bad = mulShiftAddInverseBatch(input, params.ratio, params.fracBits, u64(params.offset), output);
  // A value without a result is left as it was, in place too.
  if (bad >= 0) throw new ClocksourceError("OUT_OF_RANGE", `guest TSC ${output[bad]} (index ${bad}) has no host tick below 2^64 (it lies after the host counter wraps)`);
  return output;
}
