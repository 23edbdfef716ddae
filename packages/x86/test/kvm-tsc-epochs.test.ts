import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkMappingParams, buildMappingFile, DOMAIN, mappingCodecRegistry, resolveMapping } from "@clocksource/core";
import {
  epochGuestRanges,
  kvmEpochInputs,
  kvmForward,
  kvmTscCodec,
  switchWindowImage,
  type KvmTscParams,
  type ObservedKvmEpoch,
  type WatchedKvmEpoch,
} from "../src/index.js";

const U = 1n << 64n;
const ONE = 1n << 48n;
const unscaled = (offset: bigint): KvmTscParams => ({ offset, ratio: ONE, fracBits: 48 });
const one = (p: KvmTscParams) => new Map([[0, p]]);

function covered(ranges: readonly { from: bigint; until: bigint }[], v: bigint): boolean {
  return ranges.some((r) => r.from <= v && v < r.until);
}

describe("epochGuestRanges", () => {
  it("an epoch that does not wrap is one range: open below for the first, open above while current", () => {
    const p = unscaled(-1000n);
    expect(epochGuestRanges({ vcpus: one(p), hostFrom: null, hostFirstSeen: 5000n, hostUntil: null, hostLastSeen: 9000n })).toEqual([{ from: 0n, until: U }]);
    expect(epochGuestRanges({ vcpus: one(p), hostFrom: 5000n, hostFirstSeen: 5100n, hostUntil: 9000n, hostLastSeen: 8000n })).toEqual([{ from: 4000n, until: 8001n }]);
    expect(epochGuestRanges({ vcpus: one(p), hostFrom: 5000n, hostFirstSeen: 5100n, hostUntil: null, hostLastSeen: 8000n })).toEqual([{ from: 4000n, until: U }]);
  });

  it("a guest TSC that wraps inside the epoch gives [start, 2^64) then [0, end]", () => {
    // guest = host - 10000 mod 2^64: host 5000 is 2^64-5000, host 10000 is 0
    const p = unscaled(-10_000n);
    const closed = epochGuestRanges({ vcpus: one(p), hostFrom: 5000n, hostFirstSeen: 5001n, hostUntil: 12_000n, hostLastSeen: 11_000n });
    expect(closed).toEqual([{ from: U - 5000n, until: U }, { from: 0n, until: 2001n }]);
    // still current: the piece after the wrap reaches up to where the epoch began, no further
    const open = epochGuestRanges({ vcpus: one(p), hostFrom: 5000n, hostFirstSeen: 5001n, hostUntil: null, hostLastSeen: 11_000n });
    expect(open).toEqual([{ from: U - 5000n, until: U }, { from: 0n, until: U - 5000n }]);
    // the epoch found at start-up: before the wrap it covered everything; after, it is split where it began
    const first = epochGuestRanges({ vcpus: one(p), hostFrom: null, hostFirstSeen: 6000n, hostUntil: null, hostLastSeen: 11_000n });
    expect(first).toEqual([{ from: U - 4000n, until: U }, { from: 0n, until: U - 4000n }]);
  });

  it("covers every value every vCPU produced, with disjoint ranges inside u64 (property)", () => {
    const params = fc.record({
      offset: fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }).map((x) => x - (1n << 62n))),
      ratio: fc.oneof(fc.constant(ONE), fc.bigInt({ min: ONE / 2n, max: ONE * 3n })),
      fracBits: fc.constant(48),
    });
    fc.assert(
      fc.property(
        fc.array(params, { minLength: 1, maxLength: 4 }),
        fc.bigInt({ min: 0n, max: 1n << 62n }),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.boolean(),
        fc.boolean(),
        (ps, a, len, seenLen, firstEpoch, current) => {
          const vcpus = new Map(ps.map((p, i) => [i, p]));
          const b = a + len;
          const e: ObservedKvmEpoch = {
            vcpus,
            hostFrom: firstEpoch ? null : a,
            hostFirstSeen: a,
            hostUntil: current ? null : b,
            hostLastSeen: current ? a + (seenLen > len ? len : seenLen) : b,
          };
          const ranges = epochGuestRanges(e);
          expect(ranges.length).toBeGreaterThan(0);
          for (const r of ranges) {
            expect(r.from).toBeGreaterThanOrEqual(0n);
            expect(r.until).toBeLessThanOrEqual(U);
            expect(r.from).toBeLessThan(r.until);
          }
          const sorted = [...ranges].sort((x, y) => (x.from < y.from ? -1 : 1));
          for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.from).toBeGreaterThanOrEqual(sorted[i - 1]!.until);
          const end = e.hostUntil ?? e.hostLastSeen;
          for (const p of ps) for (const h of [a, end, (a + end) / 2n]) expect(covered(ranges, kvmForward(h, p))).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("switchWindowImage", () => {
  it("is the values both parameter sets produce in the window; the whole range when they straddle the wrap", () => {
    expect(switchWindowImage(one(unscaled(-100n)), one(unscaled(-50n)), 1000n, 1010n)).toEqual({ sourceFrom: 900n, sourceUntil: 961n });
    expect(switchWindowImage(one(unscaled(-1005n)), one(unscaled(7n)), 1000n, 1010n)).toEqual({ sourceFrom: 0n, sourceUntil: U - 1n });
  });
});

describe("kvmEpochInputs", () => {
  const T = (s: number) => `2025-01-01T00:00:${String(s).padStart(2, "0")}Z`;

  it("makes a file that validates and converts both sides of a wrap with the wrapped epoch's parameters", () => {
    const p0 = unscaled(-10_000n);
    const p1 = unscaled(1_000_000n);
    const epochs: WatchedKvmEpoch[] = [
      { vcpus: one(p0), hostFrom: null, hostFirstSeen: 6000n, hostUntil: 20_000n, hostLastSeen: 19_000n, observedAt: T(0), lastObservedAt: T(9), switchedBetween: null },
      {
        vcpus: one(p1),
        hostFrom: 19_000n,
        hostFirstSeen: 19_900n,
        hostUntil: null,
        hostLastSeen: 19_900n,
        observedAt: T(10),
        lastObservedAt: T(10),
        switchedBetween: { notBefore: T(9), notAfter: T(10), previous: one(p0), hostWindowEnd: 20_000n },
      },
    ];
    const inputs = kvmEpochInputs(epochs);
    expect(inputs.map((e) => [e.validFrom, e.validUntil])).toEqual([
      [U - 4000n, null],
      [null, 10_001n],
      [1_019_000n, null],
    ]);
    expect(inputs[2]?.boundary).toEqual({ notBefore: T(9), notAfter: T(10), sourceFrom: 9000n, sourceUntil: 1_020_001n });
    const file = buildMappingFile(kvmTscCodec, { from: DOMAIN.guestTsc, to: DOMAIN.hostTsc, producer: "test", epochs: inputs });
    const registry = mappingCodecRegistry([kvmTscCodec]);
    checkMappingParams(file, registry);
    const m = resolveMapping(file, registry);
    // a value from before the wrap: the open-ended last epoch claims it too, and says so
    expect(m.forward(U - 1n)).toMatchObject({ epoch: 2, ambiguous: true });
    expect(resolveMapping(file, registry, { epoch: 0 }).forward(U - 1n).value).toBe(9999n);
    expect(m.forward(5n)).toMatchObject({ value: 10_005n, epoch: 1, ambiguous: false });
    expect(m.forward(2_000_000n)).toMatchObject({ value: 1_000_000n, epoch: 2 });
  });
});
