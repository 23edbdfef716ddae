/**
 * The one contract every mapping codec's batch path keeps, checked the same
 * way for each codec (x86, Arm, paravirt): the batch operations and
 * `batchConverter` give exactly what the codec's own functions and the
 * resolved mapping give, value for value, and refuse exactly the values those
 * refuse as out of range.
 */
import { expect } from "vitest";
import { applyBatchOp, batchConverter, withinRange, type MappingCodec, type ResolvedMapping } from "@clocksource/core";

/** `createBatch`'s operations against `create()`'s functions on each value, both directions. */
export function expectBatchOpsAgree<P>(codec: MappingCodec<P>, params: P, values: readonly bigint[]): void {
  const f = codec.create(params, { vcpu: null, epoch: 0 });
  const ops = codec.createBatch?.(params, { vcpu: null, epoch: 0 });
  expect(ops, `${codec.kind} has a batch hook`).toBeDefined();
  for (const v of values) {
    expect(applyBatchOp(ops!.forward, v)).toBe(withinRange(() => f.forward(v)));
    expect(applyBatchOp(ops!.inverse, v)).toBe(withinRange(() => f.inverse(v)));
  }
}

/**
 * `batchConverter` over a resolved mapping against the mapping's own
 * conversion, both directions: each value, its epoch (-1 and the input kept
 * where it is out of range) and the counts of values outside and ambiguous.
 */
export function expectBatchConverterAgrees(m: ResolvedMapping, values: readonly bigint[]): void {
  for (const dir of ["forward", "inverse"] as const) {
    const out = new BigUint64Array(values.length);
    const status = new Int32Array(values.length);
    const counts = batchConverter(m, dir).convert(BigUint64Array.from(values), out, status);
    let outside = 0;
    let ambiguous = 0;
    values.forEach((v, i) => {
      const c = withinRange(() => m[dir](v));
      if (c === undefined) outside++;
      else if (c.ambiguous) ambiguous++;
      expect([out[i], status[i]]).toEqual(c === undefined ? [v, -1] : [c.value, c.epoch]);
    });
    expect(counts).toEqual({ outside, ambiguous });
  }
}
