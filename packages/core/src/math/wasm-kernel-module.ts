/**
 * Core's kernel module written out: every function, in the order the
 * exports are read by name (see {@link U64Kernels}). The source of the bytes in
 * wasm-kernel-bytes.ts (`node scripts/gen-wasm-kernels.mjs` writes them; a test
 * fails when they differ from what this builds).
 */
import { assembleModule, I, T, type WasmFunction } from "./wasm-assembler.js";
import { formatLinesFunction, parseLinesFunction } from "./wasm-decimal-kernels.js";
import { KERNEL_PAGES } from "./wasm-kernel-layout.js";
import { instantiateWasmBytes, type WasmLoad } from "./wasm-u64-kernels.js";
import { addMaskOpFunction, claimEpochFunction, classifyEpochsFunction, mulShiftAddInverseOpFunction, mulShiftAddOpFunction, mulShiftAddSimdFunction } from "./wasm-map-kernels.js";

const LOW32 = 0xffff_ffffn;
const lo32 = (local: number) => [I.get(local), I.i64Const(LOW32), I.i64And];
const hi32 = (local: number) => [I.get(local), I.i64Const(32n), I.i64ShrU];
/** Loop over the u64 values at [ptr, end): `body` sees the value in `x` and leaves the result on the stack. */
const eachValue = (ptr: number, end: number, body: (readonly number[])[]) => [
  I.block, I.loop,
  I.get(ptr), I.get(end), I.i32GeU, I.brIf(1),
  I.get(ptr), ...body, I.i64Store,
  I.get(ptr), I.i32Const(8), I.i32Add, I.set(ptr),
  I.br(0),
  I.end, I.end,
];
/** `shift == 0 ? low : (low >> shift) | (high << (64 − shift))` — wasm shift counts are mod 64, hence the select. */
const shiftPair = (low: number, high: number, shift: number, leftShift: number) => [
  I.get(low),
  I.get(low), I.get(shift), I.i64ShrU, I.get(high), I.get(leftShift), I.i64Shl, I.i64Or,
  I.get(shift), I.i64Eqz,
  I.select,
];

/**
 * scale(ptr, n, mult, shift): value = ((value × mult) >> shift) mod 2^64 for
 * n u64 values at ptr; mult < 2^32, shift 0..63. The 96-bit product is built
 * from two 32 × 32-bit products, each exact in an i64.
 */
function scaleFunction(): WasmFunction {
  // params: 0 ptr, 1 n, 2 mult, 3 shift; locals: 4 end, 5 x, 6 plo, 7 phi/high, 8 mid, 9 low, 10 64−shift
  return {
    name: "scale",
    params: [T.i32, T.i32, T.i64, T.i64],
    results: [],
    locals: [T.i32, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64],
    body: [
      I.get(0), I.get(1), I.i32Const(3), I.i32Shl, I.i32Add, I.set(4),
      I.i64Const(64n), I.get(3), I.i64Sub, I.set(10),
      ...eachValue(0, 4, [
        I.get(0), I.i64Load, I.set(5),
        ...lo32(5), I.get(2), I.i64Mul, I.set(6),
        ...hi32(5), I.get(2), I.i64Mul, I.set(7),
        ...hi32(6), ...lo32(7), I.i64Add, I.set(8),
        I.get(8), I.i64Const(32n), I.i64Shl, ...lo32(6), I.i64Or, I.set(9),
        ...hi32(7), ...hi32(8), I.i64Add, I.set(7),
        ...shiftPair(9, 7, 3, 10),
      ]),
    ],
  };
}

/**
 * mulShiftAdd(ptr, n, mult, shift, add): value = (((value × mult) >> shift) + add) mod 2^64
 * for n u64 values at ptr; mult any u64, shift 0..63. The 128-bit product is
 * built from four 32 × 32-bit partial products.
 */
function mulShiftAddFunction(): WasmFunction {
  // params: 0 ptr, 1 n, 2 mult, 3 shift, 4 add
  // locals: 5 end; 6 x, 7 a, 8 b, 9 c, 10 d, 11 mid, 12 lo, 13 hi, 14 64−shift, 15 mult lo, 16 mult hi
  return {
    name: "mulShiftAdd",
    params: [T.i32, T.i32, T.i64, T.i64, T.i64],
    results: [],
    locals: [T.i32, ...Array<typeof T.i64>(11).fill(T.i64)],
    body: [
      I.get(0), I.get(1), I.i32Const(3), I.i32Shl, I.i32Add, I.set(5),
      I.i64Const(64n), I.get(3), I.i64Sub, I.set(14),
      ...lo32(2), I.set(15), ...hi32(2), I.set(16),
      ...eachValue(0, 5, [
        I.get(0), I.i64Load, I.set(6),
        ...lo32(6), I.get(15), I.i64Mul, I.set(7),
        ...lo32(6), I.get(16), I.i64Mul, I.set(8),
        ...hi32(6), I.get(15), I.i64Mul, I.set(9),
        ...hi32(6), I.get(16), I.i64Mul, I.set(10),
        // mid = (a >> 32) + lo32(b) + lo32(c) < 3·2^32
        ...hi32(7), ...lo32(8), I.i64Add, ...lo32(9), I.i64Add, I.set(11),
        I.get(11), I.i64Const(32n), I.i64Shl, ...lo32(7), I.i64Or, I.set(12),
        I.get(10), ...hi32(8), I.i64Add, ...hi32(9), I.i64Add, ...hi32(11), I.i64Add, I.set(13),
        ...shiftPair(12, 13, 3, 14),
        I.get(4), I.i64Add,
      ]),
    ],
  };
}

/** Every kernel function; `simd` selects the 128-bit SIMD mulShiftAdd (else its scalar form). */
export function kernelFunctions(simd: boolean): WasmFunction[] {
  return [
    scaleFunction(),
    mulShiftAddFunction(),
    parseLinesFunction(),
    formatLinesFunction(),
    mulShiftAddOpFunction(true),
    simd ? mulShiftAddSimdFunction() : mulShiftAddOpFunction(false),
    ...[true, false].flatMap((masked) => [addMaskOpFunction(masked), mulShiftAddInverseOpFunction(masked)]),
    classifyEpochsFunction(),
    claimEpochFunction(),
  ];
}

/** The kernel module's bytes. */
export function assembleKernelModule(simd: boolean): Uint8Array {
  return assembleModule(kernelFunctions(simd), KERNEL_PAGES);
}

/** Assembles and instantiates a kernel module; never throws. */
export function instantiateWasm<E>(functions: readonly WasmFunction[], pages: number): WasmLoad<E> {
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== "object") return { ok: false, reason: "this JavaScript runtime has no WebAssembly" };
  return instantiateWasmBytes<E>(assembleModule(functions, pages));
}
