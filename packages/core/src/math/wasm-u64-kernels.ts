/**
 * The batch u64 kernels as a tiny WebAssembly module: WebAssembly has native
 * i64 arithmetic, which JavaScript numbers lack. Each kernel converts a run
 * of u64 values in the module's memory in place. The module is written with
 * core's assembler (wasm-kernel-module.ts, no toolchain); its bytes are kept
 * in wasm-kernel-bytes.ts, generated from that source and checked against it
 * by a test, so that start-up compiles 4 KiB instead of running the assembler.
 */
import { KERNEL_MODULE } from "./wasm-kernel-bytes.js";
import { KERNEL_BATCH, writeKernelTables } from "./wasm-kernel-layout.js";

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

/** The signature every mapping operation kernel shares (see wasm-map-kernels.ts): returns the failures. */
type OpKernel<A extends unknown[]> = (ptr: number, n: number, status: number, e: number, fail: number, ...params: A) => number;
type MulShiftAddParams = [mult: bigint, shift: bigint, add: bigint];
type AddMaskParams = [add: bigint, mask: bigint];
type InverseParams = [add: bigint, shift: bigint, shiftNonZero: number, mult: bigint, maxHi: bigint, maxLo: bigint, s: bigint, sNonZero: number, d: bigint, reciprocal: bigint];

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

/** Compiles and instantiates a module from its bytes; never throws. */
export function instantiateWasmBytes<E>(bytes: Uint8Array): WasmLoad<E> {
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== "object") return { ok: false, reason: "this JavaScript runtime has no WebAssembly" };
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
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
  // 128-bit SIMD where the runtime has it (every x64 and arm64 V8 does); the scalar kernels otherwise.
  const simd = instantiateWasmBytes<U64Kernels>(Buffer.from(KERNEL_MODULE.simd, "base64"));
  cached = simd.ok ? simd : instantiateWasmBytes<U64Kernels>(Buffer.from(KERNEL_MODULE.scalar, "base64"));
  if (cached.ok) writeKernelTables(cached.exports.memory.buffer);
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
