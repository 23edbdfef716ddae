import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchConverter, isClocksourceError, mulShiftAddInverse, resolveMapping, U64_MAX, u64KernelsStatus, type ResolvedMapping } from "../src/index.js";
import { build, registry, type Params } from "./support/test-codecs.js";

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const params: fc.Arbitrary<Params> = fc.oneof(
  fc.record({
    form: fc.constant("kvm" as const),
    mult: fc.oneof(fc.constantFrom(1n, 1n << 48n, (1n << 48n) + 1n, (1n << 32n) - 1n, U64_MAX), fc.bigInt({ min: 1n, max: U64_MAX })),
    shift: fc.oneof(fc.constantFrom(0, 32, 48, 63), fc.integer({ min: 0, max: 63 })),
    add: fc.oneof(fc.constantFrom(0n, 1n, U64_MAX), u64),
  }),
  fc.record({ form: fc.constant("offset" as const), add: u64, bits: fc.oneof(fc.constantFrom(56, 64), fc.integer({ min: 1, max: 64 })) }),
);

/** Epochs with random, possibly overlapping ranges (switch windows), open or closed at either end. */
const epochs = fc.array(
  fc.record({
    params,
    from: fc.option(u64, { nil: null }),
    length: fc.option(fc.bigInt({ min: 1n, max: U64_MAX }), { nil: null }),
  }),
  { minLength: 1, maxLength: 5 },
);

/** The reference: value by value through the resolved mapping, the BatchConverter contract written out. */
function reference(m: ResolvedMapping, direction: "forward" | "inverse", values: readonly bigint[]) {
  const out: bigint[] = [];
  const status: number[] = [];
  let outside = 0;
  let ambiguous = 0;
  for (const v of values) {
    try {
      const c = direction === "forward" ? m.forward(v) : m.inverse(v);
      out.push(c.value);
      status.push(c.epoch);
      if (c.ambiguous) ambiguous++;
    } catch (e) {
      if (!isClocksourceError(e, "OUT_OF_RANGE")) throw e;
      out.push(v);
      status.push(-1);
      outside++;
    }
  }
  return { out, status, outside, ambiguous };
}

/** Values near every epoch boundary and each epoch's image of them, plus random ones. */
function valuesFor(m: ResolvedMapping, random: bigint[]): bigint[] {
  const near: bigint[] = [0n, 1n, U64_MAX];
  for (const [i, e] of m.file.epochs.entries()) {
    for (const b of [e.validFrom, e.validUntil]) {
      if (b === null) continue;
      for (const d of [-1n, 0n, 1n]) {
        const v = b + d;
        if (v < 0n || v > U64_MAX) continue;
        near.push(v);
        for (const f of [m.functions[i]?.forward, m.functions[i]?.inverse]) {
          try {
            if (f) near.push(f(v));
          } catch {
            // outside that epoch's domain
          }
        }
      }
    }
  }
  return [...near, ...random];
}

const backend = u64KernelsStatus().ok ? "WebAssembly kernels" : "value by value (no WebAssembly)";

describe(`batchConverter (${backend}) is bit-identical to ResolvedMapping, value by value`, () => {
  for (const kind of ["test-kernels", "test-each", "test-none"]) {
    it(`${kind}: random epochs, switch windows, both directions, forced epochs`, () => {
      fc.assert(
        fc.property(epochs, fc.array(u64, { maxLength: 40 }), fc.nat(), (es, random, pick) => {
          const file = build(kind, es);
          for (const forced of [undefined, pick % es.length]) {
            const m = resolveMapping(file, registry, forced === undefined ? {} : { epoch: forced });
            const values = valuesFor(m, random);
            for (const direction of ["forward", "inverse"] as const) {
              const ref = reference(m, direction, values);
              const input = BigUint64Array.from(values);
              const output = new BigUint64Array(values.length);
              const status = new Int32Array(values.length);
              const counts = batchConverter(m, direction).convert(input, output, status);
              expect([...output]).toEqual(ref.out);
              expect([...status]).toEqual(ref.status);
              expect(counts).toEqual({ outside: ref.outside, ambiguous: ref.ambiguous });
            }
          }
        }),
        { numRuns: kind === "test-kernels" ? 400 : 100 },
      );
    });
  }

  it("converts in place (output = input), n below the length, and across kernel batches", () => {
    const file = build("test-kernels", [
      { params: { form: "kvm", mult: (1n << 48n) + 12345n, shift: 48, add: 7n }, from: null, length: 1n << 40n },
      { params: { form: "kvm", mult: 1n << 48n, shift: 48, add: 1n << 41n }, from: (1n << 40n) - 1000n, length: null },
    ]);
    const m = resolveMapping(file, registry);
    const n = 65536 * 2 + 5;
    const values = Array.from({ length: n }, (_, i) => (1n << 40n) - 70000n + BigInt(i));
    for (const direction of ["forward", "inverse"] as const) {
      const ref = reference(m, direction, values);
      const a = BigUint64Array.from([...values, 42n]);
      const status = new Int32Array(n + 1).fill(99);
      const counts = batchConverter(m, direction).convert(a, a, status, n);
      expect([...a.subarray(0, n)]).toEqual(ref.out);
      expect(a[n]).toBe(42n);
      expect(status[n]).toBe(99);
      expect([...status.subarray(0, n)]).toEqual(ref.status);
      expect(counts).toEqual({ outside: ref.outside, ambiguous: ref.ambiguous });
    }
    if (u64KernelsStatus().ok) expect(m.batch?.every((b) => b !== null)).toBe(true);
  });

  it("interleaves converters of different mappings (the epoch table is shared)", () => {
    const a = resolveMapping(build("test-kernels", [
      { params: { form: "offset", add: 5n, bits: 64 }, from: null, length: 100n },
      { params: { form: "offset", add: 1000n, bits: 64 }, from: 90n, length: null },
    ]), registry);
    const b = resolveMapping(build("test-kernels", [
      { params: { form: "offset", add: 1n, bits: 64 }, from: 50n, length: 10n },
      { params: { form: "offset", add: 2n, bits: 64 }, from: 55n, length: 100n },
    ]), registry);
    const values = [0n, 49n, 50n, 55n, 59n, 60n, 89n, 90n, 99n, 100n, 154n, 155n];
    const ca = batchConverter(a, "forward");
    const cb = batchConverter(b, "forward");
    for (let r = 0; r < 3; r++) {
      for (const [m, c] of [[a, ca], [b, cb]] as const) {
        const out = new BigUint64Array(values.length);
        const st = new Int32Array(values.length);
        c.convert(BigUint64Array.from(values), out, st);
        expect([...out]).toEqual(reference(m, "forward", values).out);
      }
    }
  });

  it("rejects a count larger than an array", () => {
    const m = resolveMapping(build("test-kernels", [{ params: { form: "offset", add: 1n, bits: 64 }, from: null, length: null }]), registry);
    const c = batchConverter(m, "forward");
    expect(() => c.convert(new BigUint64Array(2), new BigUint64Array(2), new Int32Array(1))).toThrow(/cannot convert 2 values/);
    expect(() => c.convert(new BigUint64Array(2), new BigUint64Array(2), new Int32Array(2), 3)).toThrow(/cannot convert 3 values/);
    expect(() => batchConverter(m, "sideways" as "forward")).toThrow(/direction/);
  });
});

describe("batch operations: kernels bit-identical to the BigInt reference", () => {
  it("mulShiftAddInverse is the smallest preimage, and undefined exactly where there is none", () => {
    fc.assert(
      fc.property(u64, fc.bigInt({ min: 1n, max: U64_MAX }), fc.integer({ min: 0, max: 63 }), u64, (y, mult, shift, add) => {
        const x = mulShiftAddInverse(y, mult, shift, add);
        const u = BigInt.asUintN(64, y - add);
        const S = (h: bigint) => (h * mult) >> BigInt(shift);
        if (x === undefined) return S(U64_MAX) < u;
        return x <= U64_MAX && S(x) >= u && (x === 0n || S(x - 1n) < u);
      }),
      { numRuns: 3000 },
    );
  });
});
