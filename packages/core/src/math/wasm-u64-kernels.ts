/**
 * The batch u64 kernels as a tiny WebAssembly module (built by
 * {@link assembleModule}, no toolchain, no dependency): WebAssembly has native
 * i64 arithmetic, which JavaScript numbers lack. Each kernel converts a run
 * of u64 values in the module's memory in place.
 */
import { assembleModule, I, T, type WasmFunction } from "./wasm-assembler.js";
import { formatLinesFunction, parseLinesFunction, writeDecimalTables } from "./wasm-decimal-kernels.js";
import { KERNEL_BATCH, KERNEL_PAGES } from "./wasm-kernel-layout.js";
import { addMaskOpFunction, claimEpochFunction, classifyEpochsFunction, mulShiftAddInverseOpFunction, mulShiftAddOpFunction, mulShiftAddSimdFunction } from "./wasm-map-kernels.js";

/** The few WebAssembly globals used (the project's lib settings do not declare them). */
declare namespace WebAssembly {
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: Record<string, unknown>;
  }
}

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

/** The signature every mapping operation kernel shares (see wasm-map-kernels.ts): returns the failures. */
type OpKernel<A extends unknown[]> = (ptr: number, n: number, status: number, e: number, fail: number, ...params: A) => number;
type MulShiftAddParams = [mult: bigint, shift: bigint, add: bigint];
type AddMaskParams = [add: bigint, mask: bigint];
type InverseParams = [add: bigint, shift: bigint, shiftNonZero: number, mult: bigint, maxHi: bigint, maxLo: bigint, s: bigint, sNonZero: number, vn: bigint, vn1: bigint, vn0: bigint];

/** The instantiated kernels (one module, one fixed-size memory laid out as wasm-kernel-layout.ts says). */
export interface U64Kernels {
  readonly memory: WebAssembly.Memory;
  scale(ptr: number, n: number, mult: bigint, shift: bigint): void;
  mulShiftAdd(ptr: number, n: number, mult: bigint, shift: bigint, add: bigint): void;
  parseLines(p: number, end: number, out: number, max: number): number;
  formatLines(vals: number, n: number, out: number): number;
  mulShiftAddMasked: OpKernel<MulShiftAddParams>;
  mulShiftAddAll: OpKernel<MulShiftAddParams>;
  addMaskMasked: OpKernel<AddMaskParams>;
  addMaskAll: OpKernel<AddMaskParams>;
  mulShiftAddInverseMasked: OpKernel<InverseParams>;
  mulShiftAddInverseAll: OpKernel<InverseParams>;
  classifyEpochs(vals: number, n: number, status: number, amb: number, table: number, epochs: number): number;
  claimEpoch(results: number, failed: number, vals: number, status: number, amb: number, n: number, validFrom: bigint, validUntil: bigint, open: number, e: number): number;
}

/** A module's exports, or why it could not be instantiated (kept, so that a slow fallback is never silent). */
export type WasmLoad<E> = { readonly ok: true; readonly exports: E } | { readonly ok: false; readonly reason: string };

/** Assembles and instantiates a kernel module; never throws. */
export function instantiateWasm<E>(functions: readonly WasmFunction[], pages: number): WasmLoad<E> {
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== "object") return { ok: false, reason: "this JavaScript runtime has no WebAssembly" };
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(assembleModule(functions, pages)));
    return { ok: true, exports: instance.exports as unknown as E };
  } catch (e) {
    return { ok: false, reason: `WebAssembly kernels failed to load: ${(e as Error)?.message ?? String(e)}` };
  }
}

/** Values per call: the module's memory holds one chunk (64 Ki values = 512 KiB) at offset 0. */
export const WASM_CHUNK_VALUES = KERNEL_BATCH;

let cached: WasmLoad<U64Kernels> | undefined;

/** Loads core's kernels once, with the reason when they are unavailable. */
export function u64KernelsStatus(): WasmLoad<U64Kernels> {
  if (cached) return cached;
  const functions = (simd: boolean) => [
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
  // 128-bit SIMD where the runtime has it (every x64 and arm64 V8 does); the scalar kernels otherwise.
  const simd = instantiateWasm<U64Kernels>(functions(true), KERNEL_PAGES);
  cached = simd.ok ? simd : instantiateWasm<U64Kernels>(functions(false), KERNEL_PAGES);
  if (cached.ok) writeDecimalTables(cached.exports.memory.buffer);
  return cached;
}

/** Core's kernels, or null where WebAssembly is unavailable (callers then use the JS path; {@link u64KernelsStatus} says why). */
export function u64Kernels(): U64Kernels | null {
  const s = u64KernelsStatus();
  return s.ok ? s.exports : null;
}

/**
 * Streams `input` through a kernel that converts values in place in its
 * module's memory, one chunk at a time, into `output`. The kernel returns how
 * many of the `n` values it converted; fewer stops the run, and the index of
 * the first value not converted is returned (else -1). Output before it is written.
 */
export function runChunked(memory: { readonly buffer: ArrayBuffer }, input: BigUint64Array, output: BigUint64Array, kernel: (n: number) => number | void): number {
  const window = new BigUint64Array(memory.buffer, 0, WASM_CHUNK_VALUES);
  for (let start = 0; start < input.length; start += WASM_CHUNK_VALUES) {
    const n = Math.min(WASM_CHUNK_VALUES, input.length - start);
    window.set(input.subarray(start, start + n));
    const done = kernel(n);
    const converted = typeof done === "number" ? done : n;
    output.set(window.subarray(0, converted), start);
    if (converted < n) return start + converted;
  }
  return -1;
}
