import fc from "fast-check";
import type { ParavirtParams } from "../src/index.js";

/** Paravirtual mapping parameters over the ranges a sync can produce (with and without a host tick rate). */
export const paramsArb: fc.Arbitrary<ParavirtParams> = fc.record({
  referenceGuestNs: fc.bigInt({ min: 0n, max: 10n ** 15n }),
  offsetNs: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
  driftPpt: fc.bigInt({ min: -(10n ** 11n), max: 10n ** 11n }),
  errorBoundNs: fc.bigInt({ min: 0n, max: 10n ** 9n }),
  driftBoundPpt: fc.bigInt({ min: 0n, max: 10n ** 10n }),
  hostTicksPerSecond: fc.option(fc.bigInt({ min: 1_000_000n, max: 5_000_000_000n }), { nil: null }),
});
