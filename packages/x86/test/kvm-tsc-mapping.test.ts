import { isClocksourceError, U64_MAX } from "@clocksource/core";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  batchBackend,
  batchFallbackReason,
  batchNativeReason,
  composeNested,
  KVM_TSC_FRAC_BITS,
  KVM_TSC_RATIO_MAX,
  kvmForward,
  kvmForwardBatch,
  kvmInverse,
  kvmInverseBatch,
  kvmTscCodec,
  scaledMax,
  setNativeBatch,
  type KvmTscParams,
} from "../src/index.js";
import { describeEachBatchBackend, NATIVE_BATCH } from "./support/batch-backends.js";

const U64 = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const S = (h: bigint, p: KvmTscParams) => (h * p.ratio) >> BigInt(p.fracBits);
const u = (g: bigint, p: KvmTscParams) => BigInt.asUintN(64, g - p.offset);

/** u64 values biased to the edges: 0, 1, 2^64−1, near 2^63, near wrap. */
const edgeU64 = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, U64, U64 - 1n, 1n << 63n, (1n << 63n) - 1n, 1n << 32n, (1n << 32n) - 1n, 1n << 48n),
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: U64 - 1000n, max: U64 }),
  fc.bigInt({ min: 0n, max: U64 }),
);
const edgeOffset = fc.oneof(
  fc.constantFrom(0n, -1n, 1n, I64_MIN, I64_MAX, -(1n << 62n), 123_456_789n),
  fc.bigInt({ min: I64_MIN, max: I64_MAX }),
);
/** Ratios per vendor format: 1, 2^frac (unscaled), 2^frac ± 1, the vendor's max, random. */
const params: fc.Arbitrary<KvmTscParams> = fc.oneof(
  ...(["vmx", "svm"] as const).map((ext) => {
    const frac = KVM_TSC_FRAC_BITS[ext];
    const one = 1n << BigInt(frac);
    const ratio = fc.oneof(
      fc.constantFrom(1n, one, one - 1n, one + 1n, KVM_TSC_RATIO_MAX[ext], one / 2n, one * 3n + 7n),
      fc.bigInt({ min: 1n, max: KVM_TSC_RATIO_MAX[ext] }),
      fc.bigInt({ min: one - (one >> 10n), max: one + (one >> 10n) }),
    );
    return fc.record({ offset: edgeOffset, ratio, fracBits: fc.constant(frac) });
  }),
  // any frac 0..63, any ratio: the arithmetic must hold beyond the two hardware formats
  fc.record({ offset: edgeOffset, ratio: fc.bigInt({ min: 1n, max: U64 }), fracBits: fc.integer({ min: 0, max: 63 }) }),
);

function tryInverse(g: bigint, p: KvmTscParams): bigint | "out-of-range" {
  try {
    return kvmInverse(g, p);
  } catch (e) {
    if (isClocksourceError(e, "OUT_OF_RANGE")) return "out-of-range";
    throw e;
  }
}

const RUNS = { numRuns: 3000 };

describe("KVM TSC forward/inverse (BigInt reference)", () => {
  it("forward is ((host × ratio) >> frac) + offset mod 2^64 with a 128-bit product", () => {
    const p = { offset: -5n, ratio: (1n << 48n) * 3n, fracBits: 48 };
    expect(kvmForward(U64, p)).toBe(BigInt.asUintN(64, ((U64 * 3n) % (1n << 64n)) - 5n));
    expect(kvmForward(0n, p)).toBe(U64 - 4n);
    expect(kvmForward(10n, { offset: 100n, ratio: 1n << 32n, fracBits: 32 })).toBe(110n);
  });

  it("inverse(forward(h)) ≤ h for every host tick", () => {
    fc.assert(fc.property(params, edgeU64, (p, h) => {
      const back = tryInverse(kvmForward(h, p), p);
      return back !== "out-of-range" && back <= h;
    }), RUNS);
  });

  it("forward(inverse(g)) == g for every g in the image (g = forward(h), S(h) < 2^64)", () => {
    fc.assert(fc.property(params, edgeU64, (p, h) => {
      fc.pre(S(h, p) <= U64);
      const g = kvmForward(h, p);
      return kvmForward(kvmInverse(g, p), p) === g;
    }), RUNS);
  });

  it("inverse(g) is the smallest host tick with S(h) ≥ u(g); out of range exactly when none exists below 2^64", () => {
    fc.assert(fc.property(params, edgeU64, (p, g) => {
      const h = tryInverse(g, p);
      const target = u(g, p);
      if (h === "out-of-range") return target > scaledMax(p);
      return h <= U64 && S(h, p) >= target && (h === 0n || S(h - 1n, p) < target);
    }), RUNS);
  });

  it("unscaled (ratio = 2^frac) is a pure offset both ways", () => {
    fc.assert(fc.property(edgeOffset, edgeU64, fc.constantFrom(32, 48), (offset, v, fracBits) => {
      const p = { offset, ratio: 1n << BigInt(fracBits), fracBits };
      return kvmForward(v, p) === BigInt.asUintN(64, v + offset) && kvmInverse(v, p) === BigInt.asUintN(64, v - offset);
    }), RUNS);
  });

  it("rejects bad parameters and non-u64 input", () => {
    expect(() => kvmForwardBatch(new BigUint64Array(1), { offset: 0n, ratio: 0n, fracBits: 48 })).toThrow(/ratio/);
    expect(() => kvmForwardBatch(new BigUint64Array(1), { offset: 1n << 63n, ratio: 1n, fracBits: 48 })).toThrow(/offset/);
    expect(() => kvmForwardBatch(new BigUint64Array(1), { offset: 0n, ratio: 1n, fracBits: 64 })).toThrow(/frac/);
  });
});

describe("nested (L2) composition as KVM computes it", () => {
  it("an unscaled L2 adds offsets and keeps L1's ratio; an unscaled L1 keeps L2's ratio and scales L1's offset", () => {
    const N = 48;
    const one = 1n << 48n;
    const l1 = { offset: -1000n, ratio: one + 12345n, fracBits: N };
    expect(composeNested(l1, { offset: 77n, ratio: one, fracBits: N })).toEqual({ offset: -923n, ratio: one + 12345n, fracBits: N });
    const l2 = { offset: 5n, ratio: 4n * one, fracBits: N };
    // mul_s64_u64_shr(-1000, 4·2^48, 48) = -4000: the sign is taken off, the magnitude scaled, the sign restored
    expect(composeNested({ offset: -1000n, ratio: one, fracBits: N }, l2)).toEqual({ offset: -3995n, ratio: 4n * one, fracBits: N });
    // the kernel selftest's shape: L1 scaled down by 2, L2 up by 4 (vmx_nested_tsc_scaling_test)
    const c = composeNested({ offset: 0n, ratio: one / 2n, fracBits: N }, { offset: -33125236320908n, ratio: 4n * one, fracBits: N });
    expect(c.ratio).toBe(2n * one);
    expect(c.offset).toBe(-33125236320908n);
    // negative offsets truncate toward zero, not toward −∞
    expect(composeNested({ offset: -3n, ratio: one, fracBits: N }, { offset: 0n, ratio: one / 2n, fracBits: N }).offset).toBe(-1n);
  });

  it("L0→L2 in one step stays within the rounding of applying L1 then L2 (no wrap)", () => {
    const N = 48;
    const one = 1n << 48n;
    const ratio = fc.bigInt({ min: one / 4n, max: one * 4n });
    const off = fc.bigInt({ min: -(1n << 50n), max: 1n << 50n });
    fc.assert(fc.property(ratio, ratio, off, off, fc.bigInt({ min: 0n, max: 1n << 50n }), (r1, r2, o1, o2, h) => {
      const l1 = { offset: o1, ratio: r1, fracBits: N };
      const l2 = { offset: o2, ratio: r2, fracBits: N };
      const g1 = S(h, l1) + o1;
      fc.pre(g1 >= 0n);
      const g2 = S(g1, l2) + o2;
      fc.pre(g2 >= 0n);
      const c = composeNested(l1, l2);
      const one = kvmForward(h, c);
      const diff = one > g2 ? one - g2 : g2 - one;
      return diff <= (r2 >> BigInt(N)) + (h >> BigInt(N)) + 4n;
    }), { numRuns: 2000 });
    expect(() => composeNested({ offset: 0n, ratio: 1n << 48n, fracBits: 48 }, { offset: 0n, ratio: 1n << 32n, fracBits: 32 })).toThrow(/frac/);
  });
});


describe("batch backends", () => {
  it("native where the addon has the kernels; else WebAssembly, with the reason", () => {
    if (NATIVE_BATCH) expect(batchBackend()).toBe("native");
    else expect(batchBackend()).not.toBe("native");
    expect(batchFallbackReason()).toBe(null);
    const was = setNativeBatch(false);
    try {
      expect(batchBackend()).toBe("wasm");
      expect(batchNativeReason()).toBe("turned off by setNativeBatch(false)");
    } finally {
      setNativeBatch(was);
    }
  });

  it("CLOCKSOURCE_NATIVE=0: WebAssembly, saying why, with the same results", () => {
    const dist = join(__dirname, "..", "dist", "index.js");
    const script = `import(${JSON.stringify(dist)}).then((x) => {
      const p = { offset: -5n, ratio: (1n << 48n) + 4503599627n, fracBits: 48 };
      const a = new BigUint64Array([0n, 1n, 1n << 63n, (1n << 64n) - 1n, 123456789012345n]);
      const f = x.kvmForwardBatch(a, p, new BigUint64Array(a.length));
      const ok = [...a].every((v, i) => f[i] === x.kvmForward(v, p)) && [...f].every((g, i) => x.kvmInverseBatch(f, p, new BigUint64Array(f.length))[i] === x.kvmInverse(g, p));
      console.log(JSON.stringify([x.batchBackend(), x.batchNativeReason(), ok]));
    })`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", CLOCKSOURCE_NATIVE: "0" } });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual(["wasm", "native reader unavailable: disabled by CLOCKSOURCE_NATIVE=0", true]);
  });

  it("an output over the input's memory at another offset converts a snapshot of the input (the native loops leave it to WebAssembly)", () => {
    const p = { offset: 1n, ratio: 1n << 48n, fracBits: 48 };
    const all = new BigUint64Array([10n, 20n, 30n, 40n, 50n]);
    expect([...kvmForwardBatch(all.subarray(0, 4), p, all.subarray(1, 5))]).toEqual([11n, 21n, 31n, 41n]);
    expect([...all]).toEqual([10n, 11n, 21n, 31n, 41n]);
    // The same memory under two SharedArrayBuffer objects.
    const sab = new SharedArrayBuffer(40);
    const x = new BigUint64Array(sab);
    x.set([10n, 20n, 30n, 40n, 50n]);
    expect([...kvmInverseBatch(x.subarray(1, 5), p, new BigUint64Array(structuredClone(sab), 0, 4))]).toEqual([19n, 29n, 39n, 49n]);
    expect([...x]).toEqual([19n, 29n, 39n, 49n, 50n]);
  });
});

describeEachBatchBackend("batch API (native %s) is bit-identical to the BigInt reference", () => {
  const arrays = fc.array(edgeU64, { minLength: 0, maxLength: 64 });

  it("forward", () => {
    fc.assert(fc.property(params, arrays, (p, values) => {
      const out = kvmForwardBatch(new BigUint64Array(values), p, new BigUint64Array(values.length));
      return values.every((v, i) => out[i] === kvmForward(v, p));
    }), { numRuns: 2000 });
  });

  it("inverse, including the out-of-range error at the first value without a host tick", () => {
    fc.assert(fc.property(params, arrays, (p, values) => {
      const ref = values.map((v) => tryInverse(v, p));
      const firstBad = ref.indexOf("out-of-range");
      const input = new BigUint64Array(values);
      try {
        const out = kvmInverseBatch(input, p, new BigUint64Array(values.length));
        return firstBad === -1 && values.every((_, i) => out[i] === ref[i]);
      } catch (e) {
        return firstBad !== -1 && isClocksourceError(e, "OUT_OF_RANGE") && (e as Error).message.includes(`index ${firstBad}`);
      }
    }), { numRuns: 2000 });
  });

  it("in place, across chunk boundaries", () => {
    const p = { offset: -123456789n, ratio: (1n << 48n) + 987654321n, fracBits: 48 };
    const n = 65536 * 2 + 17;
    const a = new BigUint64Array(n);
    for (let i = 0; i < n; i++) a[i] = BigInt.asUintN(64, BigInt(i) * 0x9e3779b97f4a7c15n);
    const copy = a.slice();
    kvmForwardBatch(a, p);
    for (const i of [0, 1, 65535, 65536, 65537, n - 1]) expect(a[i]).toBe(kvmForward(copy[i] as bigint, p));
    kvmInverseBatch(a, p);
    for (const i of [0, 1, 65535, 65536, 65537, n - 1]) expect(a[i]).toBe(kvmInverse(kvmForward(copy[i] as bigint, p), p));
  });

  it("maximum ratios convert 2^64 − 1 and 0 exactly", () => {
    for (const ext of ["vmx", "svm"] as const) {
      const p = { offset: I64_MIN, ratio: KVM_TSC_RATIO_MAX[ext], fracBits: KVM_TSC_FRAC_BITS[ext] };
      const a = new BigUint64Array([0n, U64_MAX, 1n << 63n]);
      const f = kvmForwardBatch(a.slice(), p);
      expect([...f]).toEqual([...a].map((v) => kvmForward(v, p)));
      const i = kvmInverseBatch(f.slice(), p);
      expect([...i]).toEqual([...f].map((v) => kvmInverse(v, p)));
    }
  });
});

describe("mapping-file codec kvm-x86-tsc", () => {
  it("round-trips parameters and maps guest → host with the exact inverse", () => {
    fc.assert(fc.property(params, edgeU64, (p, h) => {
      const parsed = kvmTscCodec.parseParams(kvmTscCodec.serializeParams(p), "$.p");
      if (parsed.offset !== p.offset || parsed.ratio !== p.ratio || parsed.fracBits !== p.fracBits) return false;
      const m = kvmTscCodec.create(parsed, { vcpu: null, epoch: 0 });
      return m.inverse(h) === kvmForward(h, p) && (S(h, p) > U64 || m.forward(m.inverse(h)) <= h);
    }), { numRuns: 1000 });
  });

  it("rejects malformed parameters naming the field", () => {
    expect(() => kvmTscCodec.parseParams({ tscOffset: "1", tscScalingRatio: "0", fracBits: 48 }, "$.e")).toThrow(/\$\.e\.tscScalingRatio/);
    expect(() => kvmTscCodec.parseParams({ tscOffset: 1, tscScalingRatio: "1", fracBits: 48 }, "$.e")).toThrow(/\$\.e\.tscOffset/);
    expect(() => kvmTscCodec.parseParams({ tscOffset: "1", tscScalingRatio: "1", fracBits: 64 }, "$.e")).toThrow(/\$\.e\.fracBits/);
    expect(() => kvmTscCodec.parseParams({ tscOffset: "1", tscScalingRatio: "1" }, "$.e")).toThrow(/\$\.e\.fracBits: missing/);
  });
});
