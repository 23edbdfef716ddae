import fc from "fast-check";
import { describe, it } from "vitest";
import { buildMappingFile, mappingCodecRegistry, resolveMapping, U64_MAX, u64KernelsStatus } from "@clocksource/core";
import { expectBatchConverterAgrees, expectBatchOpsAgree } from "../../../test/support/batch-agreement.js";
import { armCntvoffCodec, type CntvoffParams } from "../src/index.js";

const registry = mappingCodecRegistry([armCntvoffCodec]);
const u64 = fc.oneof(fc.constantFrom(0n, 1n, U64_MAX, U64_MAX - 1n, 1n << 63n, (1n << 56n) - 1n, 1n << 56n), fc.bigInt({ min: 0n, max: U64_MAX }));
const params: fc.Arbitrary<CntvoffParams> = fc.record({
  view: fc.constantFrom("virtual" as const, "physical" as const),
  voffset: u64,
  poffset: u64,
  widthBits: fc.oneof(fc.constantFrom(56, 64), fc.integer({ min: 56, max: 64 })),
});

describe(`arm-cntvoff batch hook (${u64KernelsStatus().ok ? "WebAssembly kernels" : "no WebAssembly"}) is the codec's own conversion`, () => {
  it("each operation equals create()'s function on every u64 (any input, not only w-bit ones)", () => {
    fc.assert(
      fc.property(params, fc.array(u64, { maxLength: 20 }), (p, values) => expectBatchOpsAgree(armCntvoffCodec, p, values)),
      { numRuns: 2000 },
    );
  });

  it("through batchConverter with several epochs, both directions, bit-identical to the resolved mapping", () => {
    fc.assert(
      fc.property(fc.array(params.map((p) => ({ ...p, view: "virtual" as const })), { minLength: 1, maxLength: 3 }), fc.array(u64, { minLength: 1, maxLength: 50 }), (ps, values) => {
        const w = ps[0]!.widthBits;
        const file = buildMappingFile(armCntvoffCodec, {
          from: "guest.cntvct",
          to: "host.cntpct",
          producer: "test",
          createdAt: "2025-01-01T00:00:00.000Z",
          // consecutive guest ranges, as arm-mapping writes them
          epochs: ps.map((p, i) => ({ observedAt: "2025-01-01T00:00:00.000Z", params: { ...p, widthBits: w }, validFrom: i === 0 ? null : BigInt(i) << 40n, validUntil: i === ps.length - 1 ? null : BigInt(i + 1) << 40n })),
        });
        expectBatchConverterAgrees(resolveMapping(file, registry), values);
      }),
      { numRuns: 300 },
    );
  });
});
