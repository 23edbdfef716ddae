import fc from "fast-check";
import { describe, it } from "vitest";
import { mappingCodecRegistry, resolveMapping, U64_MAX, type MappingFile } from "@clocksource/core";
import { expectBatchConverterAgrees, expectBatchOpsAgree } from "../../../test/support/batch-agreement.js";
import { paravirtCodec } from "../src/index.js";
import { paramsArb } from "./params-arb.js";

const u64 = fc.oneof(fc.constantFrom(0n, 1n, U64_MAX, 10n ** 15n), fc.bigInt({ min: 0n, max: 10n ** 16n }), fc.bigInt({ min: 0n, max: U64_MAX }));

describe("paravirt-estimate batch hook is the codec's own conversion", () => {
  it("its `each` operations give create()'s result, and undefined exactly where it is out of range", () => {
    fc.assert(
      fc.property(paramsArb, fc.array(u64, { maxLength: 10 }), (p, values) => expectBatchOpsAgree(paravirtCodec, p, values)),
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
        expectBatchConverterAgrees(resolveMapping(file, registry), values);
      }),
      { numRuns: 100 },
    );
  });
});
