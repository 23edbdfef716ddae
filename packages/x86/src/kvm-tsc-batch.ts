/**
 * Batch KVM TSC conversion over `BigUint64Array`, bit-identical to the BigInt
 * reference in kvm-tsc-mapping.ts, without a BigInt per value.
 *
 * Forward is core's `mulShiftAddBatch` (its WebAssembly kernel computes the
 * 64×64→128-bit product, shifts and adds: exactly KVM's form). The inverse
 * needs a 128-by-64-bit division, which core has no kernel for, so a small
 * WebAssembly module is assembled here (no toolchain):
 * - inverse: `ceil(u·2^frac / ratio)` as `floor((u·2^frac + ratio − 1) / ratio)`,
 *   a 128-by-64-bit division done as two 64-by-32-bit digit steps with a
 *   normalised divisor (the schoolbook "divlu" of Hacker's Delight §9-4), after
 *   an exact range check against `ratio × (2^64 − 1)`.
 * Values are copied through the module's memory in chunks. Where
 * WebAssembly is missing, every value goes through the BigInt reference.
 */
import { ClocksourceError, I, instantiateWasm, mulShiftAddBatch, runChunked, T, u64KernelsStatus, WASM_CHUNK_VALUES, type WasmFunction, type WasmLoad } from "@clocksource/core";
import { assertKvmTscParams, kvmInverse, type KvmTscParams } from "./kvm-tsc-mapping.js";

const M32 = 0xffff_ffffn;
const B32 = 1n << 32n;

/** One long-division digit step: adjust `q` (≤ 2 too big) against `rhat`, then return. */
function digitCorrection(q: number, rhat: number, un: number, vn0: number, vn1: number): (readonly number[])[] {
  return [
    I.block, I.loop,
    // cond = q ≥ 2^32 ? 1 : q·vn0 > (rhat << 32) + un
    I.get(q), I.i64Const(B32), I.i64GeU,
    [0x04, 0x7f], // if (result i32)
    I.i32Const(1),
    I.else,
    I.get(q), I.get(vn0), I.i64Mul, I.get(rhat), I.i64Const(32n), I.i64Shl, I.get(un), I.i64Add, I.i64GtU,
    I.end,
    I.i32Eqz, I.brIf(1),
    I.get(q), I.i64Const(1n), I.i64Sub, I.set(q),
    I.get(rhat), I.get(vn1), I.i64Add, I.tee(rhat), I.i64Const(B32), I.i64LtU, I.brIf(0),
    I.end, I.end,
  ];
}

function inverseFunction(): WasmFunction {
  // params: 0 ptr, 1 n, 2 offset, 3 frac, 4 fracNonZero, 5 ratio, 6 maxHi, 7 maxLo, 8 s, 9 sNonZero, 10 vn, 11 vn1, 12 vn0
  const [ptr, n, off, f, fnz, r, mhi, mlo, s, snz, vn, vn1, vn0] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  // locals: 13 i (i32); 14 u, 15 xhi, 16 xlo, 17 un32, 18 un1, 19 un0, 20 q1, 21 rhat, 22 un21, 23 q0, 24 tmp, 25 addr(i32)
  const [i, u, xhi, xlo, un32, un1, un0, q1, rhat, un21, q0, tmp, addr] = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
  return {
    name: "inverse",
    params: [T.i32, T.i32, T.i64, T.i64, T.i32, T.i64, T.i64, T.i64, T.i64, T.i32, T.i64, T.i64, T.i64],
    results: [T.i32],
    locals: [T.i32, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i32],
    body: [
      I.i32Const(0), I.set(i),
      I.block, I.loop,
      I.get(i), I.get(n), I.i32GeU, I.brIf(1),
      I.get(ptr), I.get(i), I.i32Const(3), I.i32Shl, I.i32Add, I.set(addr),
      // u = g − offset; X = u << f as (xhi, xlo)
      I.get(addr), I.i64Load, I.get(off), I.i64Sub, I.set(u),
      I.get(u), I.i64Const(64n), I.get(f), I.i64Sub, I.i64ShrU, I.i64Const(0n), I.get(fnz), I.select, I.set(xhi),
      I.get(u), I.get(f), I.i64Shl, I.set(xlo),
      // X > ratio·(2^64 − 1): no host tick — report this index
      I.get(xhi), I.get(mhi), I.i64GtU,
      I.get(xhi), I.get(mhi), [0x51] /* i64.eq */, I.get(xlo), I.get(mlo), I.i64GtU, [0x71] /* i32.and */,
      I.i32Or,
      I.if, I.get(i), I.return, I.end,
      // X += ratio − 1 (cannot reach ratio·2^64)
      I.get(xlo), I.get(r), I.i64Const(1n), I.i64Sub, I.i64Add, I.set(tmp),
      I.get(xhi), I.get(tmp), I.get(xlo), I.i64LtU, I.i64ExtendI32U, I.i64Add, I.set(xhi),
      I.get(tmp), I.set(xlo),
      // normalise: un32 = top 64 bits of X << s, un1/un0 the next two 32-bit digits
      I.get(xhi), I.get(s), I.i64Shl, I.get(xlo), I.i64Const(64n), I.get(s), I.i64Sub, I.i64ShrU, I.i64Const(0n), I.get(snz), I.select, I.i64Or, I.set(un32),
      I.get(xlo), I.get(s), I.i64Shl, I.set(tmp),
      I.get(tmp), I.i64Const(32n), I.i64ShrU, I.set(un1),
      I.get(tmp), I.i64Const(M32), I.i64And, I.set(un0),
      // first quotient digit
      I.get(un32), I.get(vn1), I.i64DivU, I.set(q1),
      I.get(un32), I.get(q1), I.get(vn1), I.i64Mul, I.i64Sub, I.set(rhat),
      ...digitCorrection(q1, rhat, un1, vn0, vn1),
      I.get(un32), I.i64Const(32n), I.i64Shl, I.get(un1), I.i64Add, I.get(q1), I.get(vn), I.i64Mul, I.i64Sub, I.set(un21),
      // second quotient digit
      I.get(un21), I.get(vn1), I.i64DivU, I.set(q0),
      I.get(un21), I.get(q0), I.get(vn1), I.i64Mul, I.i64Sub, I.set(rhat),
      ...digitCorrection(q0, rhat, un0, vn0, vn1),
      I.get(addr), I.get(q1), I.i64Const(32n), I.i64Shl, I.get(q0), I.i64Or, I.i64Store,
      I.get(i), I.i32Const(1), I.i32Add, I.set(i),
      I.br(0),
      I.end, I.end,
      I.i32Const(-1),
    ],
  };
}

/** The slice of the WebAssembly JS API used here (the TS lib in use does not declare it). */
interface Kernels {
  readonly memory: { readonly buffer: ArrayBuffer };
  inverse(ptr: number, n: number, off: bigint, f: bigint, fnz: number, r: bigint, mhi: bigint, mlo: bigint, s: bigint, snz: number, vn: bigint, vn1: bigint, vn0: bigint): number;
}

let kernels: WasmLoad<Kernels> | undefined;

/** The inverse kernel, loaded once, with the reason when it is unavailable. */
function loadKernels(): WasmLoad<Kernels> {
  kernels ??= instantiateWasm<Kernels>([inverseFunction()], (WASM_CHUNK_VALUES * 8) / 65536);
  return kernels;
}

/** Why the batch functions fall back to the BigInt reference, or null when they run on WebAssembly. */
export function batchFallbackReason(): string | null {
  const inv = loadKernels();
  const core = u64KernelsStatus();
  return !inv.ok ? inv.reason : !core.ok ? core.reason : null;
}

/** Whether the batch functions run on WebAssembly kernels (else the BigInt reference). */
export function batchBackend(): "wasm" | "bigint" {
  return loadKernels().ok && u64KernelsStatus().ok ? "wasm" : "bigint";
}

const u64 = (v: bigint) => BigInt.asUintN(64, v);
const i64 = (v: bigint) => BigInt.asIntN(64, v);

function checkArrays(input: BigUint64Array, output: BigUint64Array): void {
  if (output.length < input.length) throw new ClocksourceError("INVALID_ARGUMENT", `output holds ${output.length} values, input ${input.length}`);
}

/**
 * Host TSC → guest TSC for every value: `output[i] = kvmForward(input[i])`.
 * `output` may be `input`. Bit-identical to {@link kvmForward}.
 */
export function kvmForwardBatch(input: BigUint64Array, params: KvmTscParams, output: BigUint64Array = input): BigUint64Array {
  assertKvmTscParams(params);
  checkArrays(input, output);
  // KVM's forward map is core's mulShiftAdd: ((x × mult) >> shift) + add mod 2^64, 128-bit product.
  return mulShiftAddBatch(input, params.ratio, params.fracBits, u64(params.offset), output);
}

/**
 * Guest TSC → the smallest host TSC whose guest value is ≥ it, for every
 * value (see kvm-tsc-mapping.ts). `output` may be `input`. Bit-identical to
 * {@link kvmInverse}.
 * @throws ClocksourceError `OUT_OF_RANGE` naming the first value with no host
 *   tick below 2^64 (elements before it are converted; the rest are unspecified)
 */
export function kvmInverseBatch(input: BigUint64Array, params: KvmTscParams, output: BigUint64Array = input): BigUint64Array {
  assertKvmTscParams(params);
  checkArrays(input, output);
  const loaded = loadKernels();
  if (!loaded.ok) {
    for (let i = 0; i < input.length; i++) output[i] = kvmInverse(input[i] as bigint, params);
    return output;
  }
  const k = loaded.exports;
  const r = params.ratio;
  const s = BigInt(Math.clz32(Number(r >> 32n)) === 32 ? 32 + Math.clz32(Number(r & M32)) : Math.clz32(Number(r >> 32n)));
  const vn = u64(r << s);
  const args = {
    off: i64(params.offset),
    f: BigInt(params.fracBits),
    fnz: params.fracBits !== 0 ? 1 : 0,
    r: i64(r),
    mhi: i64(r - 1n), // ratio·(2^64 − 1) = (ratio − 1)·2^64 + (2^64 − ratio)
    mlo: i64(u64(-r)),
    s,
    snz: s !== 0n ? 1 : 0,
    vn: i64(vn),
    vn1: vn >> 32n,
    vn0: vn & M32,
  };
  // The kernel returns the index of the first value with no host tick below 2^64, or −1.
  const bad = runChunked(k.memory, input, output, (n) => {
    const i = k.inverse(0, n, args.off, args.f, args.fnz, args.r, args.mhi, args.mlo, args.s, args.snz, args.vn, args.vn1, args.vn0);
    return i < 0 ? n : i;
  });
  if (bad >= 0) {
    throw new ClocksourceError("OUT_OF_RANGE", `guest TSC ${input[bad]} (index ${bad}) has no host tick below 2^64 (it lies after the host counter wraps)`);
  }
  return output;
}
