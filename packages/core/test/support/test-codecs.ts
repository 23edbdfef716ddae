/**
 * Mapping kinds for tests of the batch and streaming converters: KVM's form
 * (forward = the exact inverse of mulShiftAdd) and an offset at a width, each
 * with kernel operations, with `each` operations, or with no batch hook.
 */
import {
  applyBatchOp,
  buildMappingFile,
  checkKeys,
  ClocksourceError,
  jsonInt,
  jsonObject,
  jsonString,
  jsonU64,
  mappingCodecRegistry,
  mulShiftAddInverse,
  U64_MAX,
  type BatchMapping,
  type BatchOp,
  type EpochInput,
  type JsonObject,
  type JsonValue,
  type MappingCodec,
} from "../../src/index.js";

/** Parameters of the test kinds: KVM's form (forward = the exact inverse of mulShiftAdd) or an offset at a width. */
export type Params = { form: "kvm"; mult: bigint; shift: number; add: bigint } | { form: "offset"; add: bigint; bits: number };

function opsOf(p: Params): BatchMapping {
  if (p.form === "kvm") return { forward: { kind: "mulShiftAddInverse", mult: p.mult, shift: p.shift, add: p.add }, inverse: { kind: "mulShiftAdd", mult: p.mult, shift: p.shift, add: p.add } };
  return { forward: { kind: "addMask", add: p.add, bits: p.bits }, inverse: { kind: "addMask", add: BigInt.asUintN(64, -p.add), bits: p.bits } };
}

/** The BigInt functions, written from the definitions (not through applyBatchOp's kernels). */
export function functionsOf(p: Params) {
  const outside = (v: bigint) => new ClocksourceError("OUT_OF_RANGE", `${v} has no preimage`);
  if (p.form === "kvm") {
    return {
      forward: (v: bigint) => {
        const r = mulShiftAddInverse(v, p.mult, p.shift, p.add);
        if (r === undefined) throw outside(v);
        return r;
      },
      inverse: (v: bigint) => BigInt.asUintN(64, ((v * p.mult) >> BigInt(p.shift)) + p.add),
    };
  }
  const mask = (1n << BigInt(p.bits)) - 1n;
  return { forward: (v: bigint) => (v + p.add) & mask, inverse: (v: bigint) => (v + (1n << 64n) - p.add) & mask };
}

export function codec(kind: string, batch: "kernels" | "each" | "none"): MappingCodec<Params> {
  return {
    kind,
    description: "test",
    exact: true,
    parseParams(json: JsonValue, path: string): Params {
      const o = jsonObject(json, path);
      checkKeys(o, path, ["form", "add"], ["mult", "shift", "bits"]);
      const form = jsonString(o.form, `${path}.form`);
      if (form === "kvm") return { form, mult: jsonU64(o.mult, `${path}.mult`), shift: jsonInt(o.shift, `${path}.shift`, 0, 63), add: jsonU64(o.add, `${path}.add`) };
      return { form: "offset", add: jsonU64(o.add, `${path}.add`), bits: jsonInt(o.bits, `${path}.bits`, 1, 64) };
    },
    serializeParams(p: Params): JsonObject {
      if (p.form === "kvm") return { form: p.form, mult: p.mult.toString(), shift: p.shift, add: p.add.toString() };
      return { form: p.form, add: p.add.toString(), bits: p.bits };
    },
    create: (p) => functionsOf(p),
    ...(batch === "none"
      ? {}
      : {
          createBatch(p: Params): BatchMapping {
            const ops = opsOf(p);
            if (batch === "kernels") return ops;
            const each = (op: BatchOp): BatchOp => ({ kind: "each", convert: (v) => applyBatchOp(op, v) });
            return { forward: each(ops.forward), inverse: each(ops.inverse) };
          },
        }),
  };
}

export const CODECS = [codec("test-kernels", "kernels"), codec("test-each", "each"), codec("test-none", "none")];
export const registry = mappingCodecRegistry(CODECS);
const T0 = "2025-01-01T00:00:00.000Z";

/** One epoch of a test file: parameters, validFrom (null = 0) and a length (null = open-ended). */
export interface TestEpoch {
  readonly params: Params;
  readonly from: bigint | null;
  readonly length: bigint | null;
}

/** A mapping file of a test kind. */
export function build(kind: string, es: readonly TestEpoch[]) {
  const inputs: EpochInput<Params>[] = es.map((e) => {
    let until = e.length === null ? null : (e.from ?? 0n) + e.length;
    if (until !== null && until > U64_MAX) until = null;
    return { observedAt: T0, validFrom: e.from, validUntil: until, params: e.params };
  });
  const c = CODECS.find((x) => x.kind === kind) as MappingCodec<Params>;
  return buildMappingFile(c, { from: "a.x", to: "b.y", producer: "test", createdAt: T0, epochs: inputs });
}
