import { inKernelMemory, isClocksourceError, U64_MAX, WASM_CHUNK_VALUES } from "@clocksource/core";
import fc from "fast-check";
import { expect, it } from "vitest";
import { allocU64Batch, batchBackend, KVM_TSC_FRAC_BITS, KVM_TSC_RATIO_MAX, kvmForward, kvmForwardBatch, kvmInverse, kvmInverseBatch, scaledMax, type KvmTscParams } from "../src/index.js";
import { describeEachBatchBackend } from "./support/batch-backends.js";

const C = WASM_CHUNK_VALUES;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const EDGE = [0n, 1n, 2n, U64_MAX, U64_MAX - 1n, 1n << 63n, (1n << 63n) - 1n, 1n << 32n, (1n << 32n) - 1n, 1n << 48n];

const offset = fc.oneof(fc.constantFrom(0n, -1n, 1n, I64_MIN, I64_MAX, 123_456_789n), fc.bigInt({ min: I64_MIN, max: I64_MAX }));
/** The two hardware formats (1, unscaled, ±1, the maximum, random) and any ratio with any frac. */
const params: fc.Arbitrary<KvmTscParams> = fc.oneof(
  ...(["vmx", "svm"] as const).map((ext) => {
    const frac = KVM_TSC_FRAC_BITS[ext];
    const one = 1n << BigInt(frac);
    const ratio = fc.oneof(fc.constantFrom(1n, one, one - 1n, one + 1n, KVM_TSC_RATIO_MAX[ext], one / 2n), fc.bigInt({ min: 1n, max: KVM_TSC_RATIO_MAX[ext] }));
    return fc.record({ offset, ratio, fracBits: fc.constant(frac) });
  }),
  fc.record({ offset, ratio: fc.bigInt({ min: 1n, max: U64_MAX }), fracBits: fc.integer({ min: 0, max: 63 }) }),
);
/** Lengths 0..9 (the SIMD kernel's odd tails) and around a chunk. */
const length = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(C - 1, C, C + 1));
/** A seed: an edge value, a random one, or k for "the guest value at the inverse's range limit + k". */
const seed = fc.oneof(fc.constantFrom(...EDGE), fc.bigInt({ min: 0n, max: U64_MAX }), fc.integer({ min: -3, max: 3 }));

function values(n: number, seeds: readonly (bigint | number)[], p: KvmTscParams): BigUint64Array {
  const limit = scaledMax(p) > U64_MAX ? U64_MAX : scaledMax(p);
  const resolved = seeds.map((s) => (typeof s === "bigint" ? s : BigInt.asUintN(64, limit + BigInt(s) + p.offset)));
  const a = new BigUint64Array(n);
  for (let i = 0; i < n; i++) a[i] = resolved[i % resolved.length] as bigint;
  return a;
}

function tryInverse(g: bigint, p: KvmTscParams): bigint | undefined {
  try {
    return kvmInverse(g, p);
  } catch (e) {
    if (isClocksourceError(e, "OUT_OF_RANGE")) return undefined;
    throw e;
  }
}

type Placement = "in place" | "same memory, elsewhere" | "kernel in, plain out" | "plain in, kernel out";
const PLACEMENTS: readonly Placement[] = ["in place", "same memory, elsewhere", "kernel in, plain out", "plain in, kernel out"];

function place(v: BigUint64Array, how: Placement): { input: BigUint64Array; output: BigUint64Array } {
  const n = v.length;
  switch (how) {
    case "in place": {
      const a = allocU64Batch(n + 1).subarray(1);
      a.set(v);
      return { input: a, output: a };
    }
    case "same memory, elsewhere": {
      const all = allocU64Batch(2 * n);
      all.set(v);
      return { input: all.subarray(0, n), output: all.subarray(n) };
    }
    case "kernel in, plain out": {
      const a = allocU64Batch(n);
      a.set(v);
      return { input: a, output: new BigUint64Array(n) };
    }
    case "plain in, kernel out":
      return { input: v.slice(), output: allocU64Batch(n) };
  }
}

const firstDiff = (got: BigUint64Array, want: readonly bigint[]) => want.findIndex((w, i) => got[i] !== w);

// Every test below runs on each backend this machine has: the native addon's loops and WebAssembly's kernels.
describeEachBatchBackend("KVM batch conversion on kernel-memory arrays (native %s) is bit-identical to the BigInt reference", (native) => {
  it("runs on the backend it names, and allocU64Batch gives kernel-memory arrays where WebAssembly runs", () => {
    expect(batchBackend()).toBe(native ? "native" : inKernelMemory(allocU64Batch(3)) ? "wasm" : "bigint");
  });

  it.each(PLACEMENTS)("kvmForwardBatch, %s", (how) => {
    fc.assert(
      fc.property(params, length, fc.array(seed, { minLength: 1, maxLength: 11 }), (p, n, seeds) => {
        const v = values(n, seeds, p);
        const want = Array.from(v, (h) => kvmForward(h, p));
        const { input, output } = place(v, how);
        expect(kvmForwardBatch(input, p, output)).toBe(output);
        expect(firstDiff(output, want)).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });

  it.each(PLACEMENTS)("kvmInverseBatch, %s, including the OUT_OF_RANGE error at the first value without a host tick", (how) => {
    fc.assert(
      fc.property(params, length, fc.array(seed, { minLength: 1, maxLength: 11 }), (p, n, seeds) => {
        const v = values(n, seeds, p);
        const ref = Array.from(v, (g) => tryInverse(g, p));
        const bad = ref.indexOf(undefined);
        const { input, output } = place(v, how);
        let err: unknown;
        try {
          kvmInverseBatch(input, p, output);
        } catch (e) {
          err = e;
        }
        if (bad < 0) {
          expect(err).toBeUndefined();
          expect(firstDiff(output, ref as bigint[])).toBe(-1);
        } else {
          expect(isClocksourceError(err, "OUT_OF_RANGE")).toBe(true);
          expect((err as Error).message).toContain(`guest TSC ${v[bad]} (index ${bad})`);
          // Elements before it are converted.
          expect(firstDiff(output, ref.slice(0, bad) as bigint[])).toBe(-1);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("kvmInverseBatch in place names the first value without a host tick in a later chunk", () => {
    // ratio 2^47 with 48 fraction bits halves the host rate: guest values from 2^63 on have no host tick below 2^64.
    const p = { offset: 0n, ratio: 1n << 47n, fracBits: 48 };
    const a = allocU64Batch(2 * C + 1);
    for (let i = 0; i < a.length; i++) a[i] = BigInt(i) * 1_000_003n;
    a[C + 3] = 1n << 63n;
    a[2 * C] = U64_MAX;
    const v = a.slice();
    expect(() => kvmInverseBatch(a, p)).toThrow(`guest TSC ${1n << 63n} (index ${C + 3})`);
    expect(firstDiff(a, Array.from(v.subarray(0, C + 3), (g) => kvmInverse(g, p)))).toBe(-1);
    // and a round trip of the rest converts cleanly afterwards
    a.set(v);
    a[C + 3] = 0n;
    a[2 * C] = 0n;
    const hosts = a.slice();
    kvmForwardBatch(a, p);
    kvmInverseBatch(a, p);
    expect(firstDiff(a, Array.from(hosts, (h) => kvmInverse(kvmForward(h, p), p)))).toBe(-1);
  });
});
