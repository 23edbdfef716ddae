import { checkKeys, jsonI64, jsonInt, jsonObject, jsonU64, mappingError, type BatchMapping, type JsonObject, type JsonValue, type MappingCodec, type MappingFunction } from "@clocksource/core/mapping";
import { assertKvmTscParams, KvmTscMapping, type KvmTscParams } from "./kvm-tsc-mapping.js";

/** The mapping-file kind of KVM x86 TSC mappings (`guest.tsc` → `host.tsc`). */
export const KVM_TSC_KIND = "kvm-x86-tsc";

/**
 * Mapping-file codec for KVM's x86 TSC offset/scaling. Parameters per vCPU:
 * `{ "tscOffset": "<i64>", "tscScalingRatio": "<u64>", "fracBits": 48 }`
 * (the debugfs values, as decimal strings). The file's direction is
 * guest → host: `forward` is the exact inverse of KVM's scaling (the smallest
 * host tick whose guest value is ≥ the input), `inverse` is KVM's own
 * host → guest computation.
 */
export const kvmTscCodec: MappingCodec<KvmTscParams> = {
  kind: KVM_TSC_KIND,
  description: "KVM x86 TSC: guest = ((host × ratio) >> frac) + offset mod 2^64, per vCPU, exact",
  exact: true,
  domains: [{ from: "guest.tsc", to: "host.tsc" }],
  parseParams(json: JsonValue, path: string): KvmTscParams {
    const o = jsonObject(json, path);
    checkKeys(o, path, ["tscOffset", "tscScalingRatio", "fracBits"]);
    const offset = jsonI64(o.tscOffset, `${path}.tscOffset`);
    const ratio = jsonU64(o.tscScalingRatio, `${path}.tscScalingRatio`);
    if (ratio === 0n) throw mappingError(`${path}.tscScalingRatio`, "must be at least 1");
    const fracBits = jsonInt(o.fracBits, `${path}.fracBits`, 0, 63);
    return { offset, ratio, fracBits };
  },
  serializeParams(p: KvmTscParams): JsonObject {
    assertKvmTscParams(p);
    return { tscOffset: p.offset.toString(), tscScalingRatio: p.ratio.toString(), fracBits: p.fracBits };
  },
  create(p: KvmTscParams): MappingFunction {
    const m = new KvmTscMapping(p);
    return { forward: (guest) => m.inverse(guest), inverse: (host) => m.forward(host) };
  },
  createBatch(p: KvmTscParams): BatchMapping {
    assertKvmTscParams(p);
    // KVM's host → guest map is mulShiftAdd; guest → host is its exact (smallest-preimage) inverse.
    const form = { mult: p.ratio, shift: p.fracBits, add: BigInt.asUintN(64, p.offset) };
    return { forward: { kind: "mulShiftAddInverse", ...form }, inverse: { kind: "mulShiftAdd", ...form } };
  },
};
