import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  allocU64Batch,
  inKernelMemory,
  isClocksourceError,
  KERNEL_ARRAY_MAX,
  mulShiftAdd,
  mulShiftAddBatch,
  mulShiftAddInverse,
  mulShiftAddInverseBatch,
  scaleTicksBatch,
  scaleTicksReference,
  U64_MAX,
  u64KernelsStatus,
  WASM_CHUNK_VALUES,
} from "../src/index.js";
import { withImportedMemory } from "../src/math/kernel-memory.js";
import { KERNEL_MODULE } from "../src/math/wasm-kernel-bytes.js";
import { KERNEL_PAGES } from "../src/math/wasm-kernel-layout.js";

/** The WebAssembly reflection used (the project's lib settings do not declare it). */
interface WasmModuleStatics {
  new (bytes: Uint8Array): object;
  exports(m: object): { name: string; kind: string }[];
  imports(m: object): { module: string; name: string; kind: string }[];
}
const WasmModule = (globalThis as unknown as { WebAssembly?: { Module: WasmModuleStatics } }).WebAssembly?.Module;

const wasm = u64KernelsStatus();
if (!wasm.ok) console.log(`kernel-memory arrays are ordinary arrays here (${wasm.reason}): the in-place paths are not exercised`);

const C = WASM_CHUNK_VALUES;
const EDGE = [0n, 1n, 2n, 0xffff_ffffn, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, U64_MAX - 1n, U64_MAX];
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const value = fc.oneof(u64, fc.constantFrom(...EDGE));
/** Lengths 0..9 (the SIMD kernel's odd tails) and around one and two chunks. */
const length = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(C - 1, C, C + 1, 2 * C + 1));
const MULTS = [1n, 2n, 3n, (1n << 32n) - 1n, 1n << 32n, 1n << 48n, (1n << 48n) + 4_503_599_627n, 1n << 63n, U64_MAX];
const mult = fc.oneof(fc.constantFrom(...MULTS), fc.bigInt({ min: 1n, max: U64_MAX }));
const shift = fc.oneof(fc.constantFrom(0, 1, 31, 32, 48, 63), fc.integer({ min: 0, max: 63 }));
const add = fc.oneof(fc.constantFrom(0n, 1n, 1n << 63n, U64_MAX), u64);

/** n values: an edge or random value repeated in runs, so long arrays stay cheap to generate. */
function fill(a: BigUint64Array, seeds: readonly bigint[]): BigUint64Array {
  for (let i = 0; i < a.length; i++) a[i] = seeds[i % seeds.length] as bigint;
  return a;
}

/** The first index where `got` differs from `want`, or -1 (one expect per array, not per value). */
function firstDiff(got: BigUint64Array, want: readonly bigint[]): number {
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return -1;
}

/** How the input and the output of one run are placed. */
type Placement = "in place" | "same memory, elsewhere" | "kernel in, plain out" | "plain in, kernel out" | "two kernel memories";
const PLACEMENTS: readonly Placement[] = ["in place", "same memory, elsewhere", "kernel in, plain out", "plain in, kernel out", "two kernel memories"];

/** Arrays for `values` placed as asked; the kernel-memory ones start at an offset so that the pointer is not the memory's first value. */
function place(values: BigUint64Array, how: Placement): { input: BigUint64Array; output: BigUint64Array } {
  const n = values.length;
  const km = (size: number, at: number) => allocU64Batch(at + size).subarray(at, at + size);
  switch (how) {
    case "in place": {
      const a = km(n, 3);
      a.set(values);
      return { input: a, output: a };
    }
    case "same memory, elsewhere": {
      const all = allocU64Batch(2 * n + 5);
      const input = all.subarray(1, 1 + n);
      input.set(values);
      return { input, output: all.subarray(n + 4, 2 * n + 4) };
    }
    case "kernel in, plain out": {
      const input = km(n, 1);
      input.set(values);
      return { input, output: new BigUint64Array(n) };
    }
    case "plain in, kernel out":
      return { input: values.slice(), output: km(n, 2) };
    case "two kernel memories": {
      const input = km(n, 0);
      input.set(values);
      return { input, output: km(n, 7) };
    }
  }
}

describe("allocU64Batch", () => {
  it("gives zeroed arrays in kernel memory (subarrays too), of any length 0..9 and around a chunk", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, C - 1, C, C + 1]) {
      const a = allocU64Batch(n);
      expect(a.length).toBe(n);
      expect(a.every((v) => v === 0n)).toBe(true);
      expect(inKernelMemory(a)).toBe(wasm.ok);
      expect(inKernelMemory(a.subarray(n >> 1))).toBe(wasm.ok);
    }
    expect(inKernelMemory(new BigUint64Array(4))).toBe(false);
  });

  it.skipIf(!wasm.ok)("a view over the memory's fixed regions is not a kernel-memory array, and still converts exactly (through the copies)", () => {
    const a = allocU64Batch(4);
    const low = new BigUint64Array(a.buffer, 0, 4);
    expect(inKernelMemory(low)).toBe(false);
    low.set([1n, 2n, 3n, U64_MAX]);
    const out = allocU64Batch(4);
    mulShiftAddBatch(low, 3n, 1, 5n, out);
    expect([...out]).toEqual([1n, 2n, 3n, U64_MAX].map((x) => mulShiftAdd(x, 3n, 1, 5n)));
  });

  it("rejects a length it cannot hold, with INVALID_ARGUMENT", () => {
    for (const n of [-1, 1.5, Number.NaN, Infinity, KERNEL_ARRAY_MAX + 1]) {
      let err: unknown;
      try {
        allocU64Batch(n);
      } catch (e) {
        err = e;
      }
      expect(isClocksourceError(err, "INVALID_ARGUMENT"), String(n)).toBe(true);
    }
    expect(KERNEL_ARRAY_MAX).toBeGreaterThan(500_000_000);
  });

  it("releases memory when arrays are dropped: 100 arrays of 8 MiB, each written through, stay well under what keeping them would take", () => {
    const before = process.memoryUsage().rss;
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      const a = allocU64Batch(1 << 20);
      a.fill(BigInt(i) + 1n);
      mulShiftAddBatch(a, 3n, 1, 0n);
      expect(a[(1 << 20) - 1]).toBe(mulShiftAdd(BigInt(i) + 1n, 3n, 1, 0n));
      peak = Math.max(peak, process.memoryUsage().rss - before);
    }
    // Kept, they would take 800 MiB of RAM; V8 collects them as their external memory adds up.
    expect(peak).toBeLessThan(400 * 2 ** 20);
  });

  it.skipIf(!wasm.ok)("the memory-importing module exports what the shared one does", () => {
    const bytes = Buffer.from(KERNEL_MODULE.simd, "base64");
    const imported = withImportedMemory(bytes, KERNEL_PAGES);
    const M = WasmModule as WasmModuleStatics;
    const names = (b: Uint8Array) => M.exports(new M(b)).map((e) => `${e.name}:${e.kind}`);
    expect(names(imported)).toEqual(names(bytes));
    expect(M.imports(new M(imported))).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    expect(() => withImportedMemory(imported, KERNEL_PAGES)).toThrow(/imports/);
    expect(() => withImportedMemory(bytes.subarray(0, bytes.length - 1), KERNEL_PAGES)).toThrow(/truncated/);
  });
});

describe("batch functions on kernel-memory arrays are bit-identical to the BigInt reference", () => {
  it.each(PLACEMENTS)("mulShiftAddBatch, %s", (how) => {
    fc.assert(
      fc.property(length, fc.array(value, { minLength: 1, maxLength: 13 }), mult, shift, add, (n, seeds, m, s, a) => {
        const values = fill(new BigUint64Array(n), seeds);
        const want = Array.from(values, (x) => mulShiftAdd(x, m, s, a));
        const { input, output } = place(values, how);
        expect(mulShiftAddBatch(input, m, s, a, output)).toBe(output);
        expect(firstDiff(output, want)).toBe(-1);
        if (input !== output) expect(firstDiff(input, [...values])).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });

  it.each(PLACEMENTS)("mulShiftAddInverseBatch, %s, with values around the range limit and the index of the first without a result", (how) => {
    fc.assert(
      fc.property(length, fc.array(fc.oneof(value, fc.integer({ min: -3, max: 3 })), { minLength: 1, maxLength: 13 }), mult, shift, add, (n, seeds, m, s, a) => {
        // Integers stand for u = limit + k: the last u with a result (k = 0) and its neighbours.
        const limit = (U64_MAX * m) >> BigInt(s);
        const ys = seeds.map((v) => (typeof v === "bigint" ? v : BigInt.asUintN(64, (limit > U64_MAX ? U64_MAX : limit) + BigInt(v) + a)));
        const values = fill(new BigUint64Array(n), ys);
        const ref = Array.from(values, (y) => mulShiftAddInverse(y, m, s, a));
        const { input, output } = place(values, how);
        expect(mulShiftAddInverseBatch(input, m, s, a, output)).toBe(ref.findIndex((r) => r === undefined));
        expect(firstDiff(output, ref.map((r, i) => r ?? (values[i] as bigint)))).toBe(-1);
        if (input !== output) expect(firstDiff(input, [...values])).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });

  it("mulShiftAddInverseBatch in place names a failure in a later chunk, and the failures of one run leave no mark on the next", () => {
    // mult 3, shift 2: u has a result up to 3(2^64 − 1)/4, so 2^64 − 1 has none.
    const [m, s] = [3n, 2];
    const a = allocU64Batch(2 * C + 3);
    fill(a, [5n, 1n << 40n]);
    a[C + 5] = U64_MAX;
    a[2 * C + 1] = U64_MAX;
    let values = a.slice();
    expect(mulShiftAddInverseBatch(a, m, s, 0n)).toBe(C + 5);
    expect(firstDiff(a, Array.from(values, (y) => mulShiftAddInverse(y, m, s, 0n) ?? y))).toBe(-1);
    // Now a failure at index 9 of the first chunk: a mark left at index 5 by the run above would be named instead.
    fill(a, [7n, 1n << 50n]);
    a[9] = U64_MAX;
    values = a.slice();
    expect(mulShiftAddInverseBatch(a, m, s, 0n)).toBe(9);
    expect(firstDiff(a, Array.from(values, (y) => mulShiftAddInverse(y, m, s, 0n) ?? y))).toBe(-1);
    fill(a, [7n, 1n << 50n]);
    expect(mulShiftAddInverseBatch(a, m, s, 0n)).toBe(-1);
  });

  it.each(PLACEMENTS)("scaleTicksBatch, %s", (how) => {
    fc.assert(
      fc.property(length, fc.array(value, { minLength: 1, maxLength: 13 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 63 }), (n, seeds, ml, s) => {
        const ms = { mult: ml, shift: s };
        const values = fill(new BigUint64Array(n), seeds);
        const want = Array.from(values, (x) => scaleTicksReference(x, ms));
        const { input, output } = place(values, how);
        expect(scaleTicksBatch(input, ms, output)).toBe(output);
        expect(firstDiff(output, want)).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });
});
