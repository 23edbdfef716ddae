import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyBatchOp, batchConverter, mappingCodecRegistry, resolveMapping, U64_MAX, withinRange, type MappingFile } from "@clocksource/core";
import { paravirtCodec, type ParavirtParams } from "../src/index.js";

const paramsArb: fc.Arbitrary<ParavirtParams> = fc.record({
  referenceGuestNs: fc.bigInt({ min: 0n, max: 10n ** 15n }),
  offsetNs: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
  driftPpt: fc.bigInt({ min: -(10n ** 11n), max: 10n ** 11n }),
  errorBoundNs: fc.bigInt({ min: 0n, max: 10n ** 9n }),
  driftBoundPpt: fc.bigInt({ min: 0n, max: 10n ** 10n }),
  hostTicksPerSecond: fc.option(fc.bigInt({ min: 1_000_000n, max: 5_000_000_000n }), { nil: null }),
});
const u64 = fc.oneof(fc.constantFrom(0n, 1n, U64_MAX, 10n ** 15n), fc.bigInt({ min: 0n, max: 10n ** 16n }), fc.bigInt({ min: 0n, max: U64_MAX }));


describe("paravirt-estimate batch hook is the codec's own conversion", () => {
  it("its `each` operations give create()'s result, and undefined exactly where it is out of range", () => {
    fc.assert(
      fc.property(paramsArb, fc.array(u64, { maxLength: 10 }), (p, values) => {
        const f = paravirtCodec.create(p, { vcpu: null, epoch: 0 });
        const ops = paravirtCodec.createBatch?.(p, { vcpu: null, epoch: 0 });
        expect(ops).toBeDefined();
        for (const v of values) {
          expect(applyBatchOp(ops!.forward, v)).toBe(withinRange(() => f.forward(v)));
          expect(applyBatchOp(ops!.inverse, v)).toBe(withinRange(() => f.inverse(v)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("through batchConverter, bit-identical to the resolved mapping", () => {
    const registry = mappingCodecRegistry([paravirtCodec]);
    fc.assert(
      fc.property(paramsArb, fc.array(u64, { minLength: 1, maxLength: 20 }), (p, values) => {
        const file: MappingFile = {
          schema: "clocksource.mapping/v1", kind: "paravirt-estimate", from: "guest.monotonic", to: p.hostTicksPerSecond === null ? "host.monotonic" : "host.tsc",
          createdAt: "2025-01-01T00:00:00.000Z", producer: "test", exact: false, errorBound: p.errorBoundNs, origin: null,
          epochs: [{ observedAt: "2025-01-01T00:00:00.000Z", lastObservedAt: null, validFrom: null, validUntil: null, boundary: null, errorBound: p.errorBoundNs, params: paravirtCodec.serializeParams(p) }],
        };
        const m = resolveMapping(file, registry);
        for (const dir of ["forward", "inverse"] as const) {
          const out = new BigUint64Array(values.length);
          const status = new Int32Array(values.length);
          batchConverter(m, dir).convert(BigUint64Array.from(values), out, status);
          values.forEach((v, i) => {
            const want = withinRange(() => m[dir](v).value);
            expect([out[i], status[i]]).toEqual(want === undefined ? [v, -1] : [want, 0]);
          });
        }
      }),
      { numRuns: 100 },
    );
  });
});
