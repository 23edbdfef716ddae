/**
 * u64 arrays that live in the memory of a WebAssembly kernel instance of
 * their own, so that the batch functions convert them in place instead of
 * copying every value into core's shared kernel memory and back (two copies
 * cost about half of what the SIMD kernel itself costs per value).
 *
 * Each array gets its own instance of core's kernel module (compiled once,
 * with its memory imported instead of defined) and its own memory: the
 * module's fixed regions (wasm-kernel-layout.ts) at the bottom, the array's
 * values after them. The memory has a fixed size (initial = maximum), so the
 * array's view is never detached. Nothing needs to be freed by hand: the
 * memory and the instance are reachable only from the array's buffer, and go
 * with it when it is garbage-collected.
 */
import { ClocksourceError } from "../errors.js";
import { KERNEL_MODULE } from "./wasm-kernel-bytes.js";
import { KERNEL_PAGES } from "./wasm-kernel-layout.js";
import type { U64Kernels } from "./wasm-u64-kernels.js";

/** The few WebAssembly globals used (the project's lib settings do not declare them). */
declare namespace WebAssembly {
  class Memory {
    constructor(descriptor: { initial: number; maximum: number });
    readonly buffer: ArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}

const PAGE = 65536;
/** Byte offset of an array's first value: the first page after the module's fixed regions. */
const BASE = KERNEL_PAGES * PAGE;
/**
 * Pages a kernel memory may have: one short of 4 GiB, so that a kernel's
 * end pointer (`ptr + 8n`, an i32) never wraps to 0.
 */
const MAX_PAGES = 65535;
/** Values an array in kernel memory can hold. */
export const KERNEL_ARRAY_MAX = ((MAX_PAGES - KERNEL_PAGES) * PAGE) / 8;

/** The kernels of one array's memory, by that memory's buffer. */
const owners = new WeakMap<ArrayBuffer, U64Kernels>();

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function readUleb(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = bytes[at++];
    if (b === undefined) throw new Error("truncated module");
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
    scale *= 128;
  }
}

/**
 * The kernel module with its memory imported (`env.memory`, at least
 * `pages` pages) instead of defined: the defined memory's section (5) is
 * dropped and an import section (2) goes after the type section (1). The
 * memory stays index 0, so the code and the `memory` export are unchanged.
 * Exported for its test.
 */
export function withImportedMemory(module: Uint8Array, pages: number): Uint8Array {
  const ascii = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const importBody = [...uleb(1), ...ascii("env"), ...ascii("memory"), 0x02, 0x00, ...uleb(pages)];
  const out: number[] = Array.from(module.subarray(0, 8));
  let at = 8;
  let memories = 0;
  while (at < module.length) {
    const id = module[at] as number;
    const [size, body] = readUleb(module, at + 1);
    const end = body + size;
    if (end > module.length) throw new Error("truncated module");
    if (id === 2) throw new Error("the module already imports something");
    if (id === 5) memories++;
    else out.push(...module.subarray(at, end));
    if (id === 1) out.push(2, ...uleb(importBody.length), ...importBody);
    at = end;
  }
  if (memories !== 1) throw new Error(`expected one memory section, found ${memories}`);
  return Uint8Array.from(out);
}

type Compiled = { readonly ok: true; readonly module: WebAssembly.Module } | { readonly ok: false; readonly reason: string };
let compiled: Compiled | undefined;

/** Compiles the memory-importing kernel module once (SIMD where the runtime has it, like the shared kernels). */
function kernelModule(): Compiled {
  if (compiled) return compiled;
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== "object") return (compiled = { ok: false, reason: "this JavaScript runtime has no WebAssembly" });
  let reason = "";
  for (const kind of ["simd", "scalar"] as const) {
    try {
      return (compiled = { ok: true, module: new WebAssembly.Module(withImportedMemory(Buffer.from(KERNEL_MODULE[kind], "base64"), KERNEL_PAGES)) });
    } catch (e) {
      reason = `WebAssembly kernels failed to load: ${(e as Error)?.message ?? String(e)}`;
    }
  }
  return (compiled = { ok: false, reason });
}

/**
 * A `BigUint64Array` of `n` zeros for the batch conversions
 * (`mulShiftAddBatch`, `mulShiftAddInverseBatch`, `scaleTicksBatch`, and
 * `kvmForwardBatch` / `kvmInverseBatch` in `@clocksource/x86`) to convert in
 * place, without the two copies per value they make for any other array.
 *
 * The values live in the memory of a WebAssembly kernel instance of the
 * array's own, where the kernels run on them directly; the conversion is
 * fast when the output is this array (in place) or another array in the same
 * memory (e.g. a `subarray` of it). An input in ordinary memory with an
 * output here costs one copy; an input here with an ordinary output takes
 * the usual path. Results are bit-identical either way.
 *
 * Cost: each array holds, besides its `8n` bytes, about 4.7 MiB of address
 * space for the kernels' scratch regions (untouched pages use no RAM), and
 * all of it stays held until the array is garbage-collected — there is
 * nothing to free by hand. Allocate a few large arrays and reuse them rather
 * than many small ones. The memory never grows, so the array is never detached.
 *
 * Where WebAssembly is unavailable, this returns an ordinary
 * `BigUint64Array` (the batch functions then convert value by value anyway).
 * @param n values, 0 ≤ n ≤ {@link KERNEL_ARRAY_MAX} (about 536 million)
 * @throws ClocksourceError `INVALID_ARGUMENT` for any other n; `OUT_OF_RANGE`
 *   when the runtime cannot reserve the memory
 */
export function allocU64Batch(n: number): BigUint64Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > KERNEL_ARRAY_MAX) {
    throw new ClocksourceError("INVALID_ARGUMENT", `an array in kernel memory holds 0..${KERNEL_ARRAY_MAX} values, asked for ${n}`);
  }
  const compiled = kernelModule();
  if (!compiled.ok) return new BigUint64Array(n);
  const pages = KERNEL_PAGES + Math.ceil((n * 8) / PAGE);
  let memory: WebAssembly.Memory;
  let kernels: U64Kernels;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    kernels = new WebAssembly.Instance(compiled.module, { env: { memory } }).exports as unknown as U64Kernels;
  } catch (e) {
    throw new ClocksourceError("OUT_OF_RANGE", `could not reserve ${pages * PAGE} bytes of WebAssembly memory for ${n} values: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  // The decimal kernels' tables (writeKernelTables) are not written: only the mapping kernels run here.
  owners.set(memory.buffer, kernels);
  return new BigUint64Array(memory.buffer, BASE, n);
}

/** Whether `array` lies in the values part of a memory made by {@link allocU64Batch} (a subarray of one counts). */
export function inKernelMemory(array: BigUint64Array): boolean {
  return array.byteOffset >= BASE && owners.has(array.buffer as ArrayBuffer);
}

/** Where a batch kernel can convert `n` values in place: the kernels of the memory and the byte offset of the first value. */
export interface InPlaceTarget {
  readonly kernels: U64Kernels;
  readonly ptr: number;
}

/**
 * When `output` lies in kernel memory ({@link allocU64Batch}), makes its
 * first `input.length` values a copy of `input` (nothing to copy when they
 * are the same values; overlapping arrays are copied as if through a
 * temporary) and returns where the kernels convert them in place; undefined
 * otherwise, and then nothing is touched. `output.length ≥ input.length` is
 * the caller's check.
 */
export function inPlaceTarget(input: BigUint64Array, output: BigUint64Array): InPlaceTarget | undefined {
  if (output.byteOffset < BASE) return undefined;
  const kernels = owners.get(output.buffer as ArrayBuffer);
  if (!kernels) return undefined;
  if (input.buffer !== output.buffer || input.byteOffset !== output.byteOffset) output.set(input);
  return { kernels, ptr: output.byteOffset };
}
