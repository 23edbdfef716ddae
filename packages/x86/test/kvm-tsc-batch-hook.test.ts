import fc from "fast-check";
import { describe, it } from "vitest";
import { buildMappingFile, mappingCodecRegistry, resolveMapping, U64_MAX, u64KernelsStatus } from "@clocksource/core";
import { expectBatchConverterAgrees, expectBatchOpsAgree } from "../../../test/support/batch-agreement.js";
import { KVM_TSC_FRAC_BITS, KVM_TSC_RATIO_MAX, kvmTscCodec, type KvmTscParams } from "../src/index.js";

const u64 = fc.oneof(fc.constantFrom(0n, 1n, U64_MAX, U64_MAX - 1n, 1n << 63n), fc.bigInt({ min: 0n, max: U64_MAX }));
const params: fc.Arbitrary<KvmTscParams> = fc.record({
  offset: fc.oneof(fc.constantFrom(0n, -1n, -(1n << 63n), (1n << 63n) - 1n), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })),
  ratio: fc.oneof(fc.constantFrom(1n, 1n << 48n, (1n << 48n) + 1n, KVM_TSC_RATIO_MAX.vmx, KVM_TSC_RATIO_MAX.svm, 1n << 32n), fc.bigInt({ min: 1n, max: U64_MAX })),
  fracBits: fc.oneof(fc.constantFrom(KVM_TSC_FRAC_BITS.vmx, KVM_TSC_FRAC_BITS.svm), fc.integer({ min: 0, max: 63 })),
});
const registry = mappingCodecRegistry([kvmTscCodec]);

describe(`kvm-x86-tsc batch hook (${u64KernelsStatus().ok ? "WebAssembly kernels" : "no WebAssembly"}) is the codec's own conversion`, () => {
  it("its operations give create()'s result, failing exactly where it is out of range", () => {
    fc.assert(
      fc.property(params, fc.array(u64, { maxLength: 10 }), (p, values) => expectBatchOpsAgree(kvmTscCodec, p, values)),
      { numRuns: 3000 },
    );
  });

  it("per-vCPU files with a switch window, through batchConverter, bit-identical to the resolved mapping", () => {
    fc.assert(
      fc.property(params, params, fc.bigInt({ min: 0n, max: 1n << 62n }), fc.bigInt({ min: 1n, max: 1n << 40n }), fc.array(u64, { minLength: 1, maxLength: 60 }), (p0, p1, from, window, random) => {
        const file = buildMappingFile(kvmTscCodec, {
          from: "guest.tsc",
          to: "host.tsc",
          producer: "test",
          createdAt: "2025-01-01T00:00:00.000Z",
          epochs: [
            { observedAt: "2025-01-01T00:00:00.000Z", validUntil: from + window, vcpus: new Map([[0, p0], [1, p1]]) },
            { observedAt: "2025-01-01T00:00:01.000Z", validFrom: from, vcpus: new Map([[0, p1], [1, p0]]) },
          ],
        });
        const values = [from - 1n, from, from + window - 1n, from + window, ...random].filter((v) => v >= 0n && v <= U64_MAX);
        for (const vcpu of [0, 1]) {
          expectBatchConverterAgrees(resolveMapping(file, registry, { vcpu }), values);
        }
      }),
      { numRuns: 300 },
    );
  });
});
