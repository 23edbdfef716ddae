import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isClocksourceError, mappingCodecRegistry, parseMappingFile, resolveMapping, serializeMappingFile, U64_MAX } from "@clocksource/core";
import { estimateOffset, mappingFileFromSessions, paravirtBoundAt, paravirtCodec, type ParavirtParams, type SyncResult } from "../src/index.js";

const paramsArb = fc.record({
  referenceGuestNs: fc.bigInt({ min: 0n, max: 10n ** 15n }),
  offsetNs: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
  driftPpt: fc.bigInt({ min: -(10n ** 11n), max: 10n ** 11n }),
  errorBoundNs: fc.bigInt({ min: 0n, max: 10n ** 9n }),
  driftBoundPpt: fc.bigInt({ min: 0n, max: 10n ** 10n }),
  hostTicksPerSecond: fc.option(fc.bigInt({ min: 1_000_000n, max: 5_000_000_000n }), { nil: null }),
});

describe("paravirt-estimate mapping codec", () => {
  it("round-trips its parameters", () => {
    fc.assert(
      fc.property(paramsArb, (p) => {
        expect(paravirtCodec.parseParams(paravirtCodec.serializeParams(p), "$.p")).toEqual(p);
      }),
    );
  });

  it("inverse is the smallest guest time whose forward value reaches the input; forward is monotone", () => {
    /** forward(x), or "out-of-range" for the one error it may throw; any other error propagates. */
    const forwardOrRange = (f: { forward(g: bigint): bigint }, x: bigint): bigint | "out-of-range" => {
      try {
        return f.forward(x);
      } catch (e) {
        if (isClocksourceError(e, "OUT_OF_RANGE")) return "out-of-range";
        throw e;
      }
    };
    fc.assert(
      fc.property(paramsArb, fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.bigInt({ min: 0n, max: 10n ** 6n }), (p, g, step) => {
        const f = paravirtCodec.create(p, { vcpu: null, epoch: 0 });
        const h = forwardOrRange(f, g);
        if (h === "out-of-range") return;
        const later = forwardOrRange(f, g + step);
        if (later !== "out-of-range") expect(later).toBeGreaterThanOrEqual(h);
        const back = f.inverse(h);
        expect(back).toBeLessThanOrEqual(g);
        expect(f.forward(back)).toBe(h);
        if (back > 0n) {
          const before = forwardOrRange(f, back - 1n);
          if (before !== "out-of-range") expect(before).toBeLessThan(h);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("follows the documented formula on a hand example", () => {
    const p: ParavirtParams = { referenceGuestNs: 1_000n, offsetNs: 500n, driftPpt: 2_000_000n, errorBoundNs: 10n, driftBoundPpt: 1_000_000n, hostTicksPerSecond: null };
    const f = paravirtCodec.create(p, { vcpu: null, epoch: 0 });
    // 2 ppm over 10^9 ns = 2000 ns
    expect(f.forward(1_000_001_000n)).toBe(1_000_001_000n + 500n + 2_000n);
    expect(f.forward(1_000n)).toBe(1_500n);
    expect(paravirtBoundAt(p, 1_000n)).toBe(10n);
    expect(paravirtBoundAt(p, 1_000_001_000n)).toBe(10n + 1_000n + 1n);
    expect(() => f.inverse(U64_MAX + 1n)).toThrow();
  });

  it("is strict", () => {
    const good = paravirtCodec.serializeParams({ referenceGuestNs: 1n, offsetNs: -1n, driftPpt: 0n, errorBoundNs: 0n, driftBoundPpt: 0n, hostTicksPerSecond: null });
    expect(() => paravirtCodec.parseParams({ ...good, extra: 1 }, "$.e")).toThrow(/\$\.e\.extra/);
    expect(() => paravirtCodec.parseParams({ ...good, offsetNs: 5 }, "$.e")).toThrow(/\$\.e\.offsetNs/);
    expect(() => paravirtCodec.parseParams({ ...good, driftPpt: "200000000000" }, "$.e")).toThrow(/10%/);
    expect(() => paravirtCodec.parseParams({ ...good, hostTicksPerSecond: "0" }, "$.e")).toThrow(/at least 1/);
  });

  it("a session becomes a mapping file that parses and converts with the estimate's numbers", () => {
    const ex = Array.from({ length: 30 }, (_, i) => {
      const t1 = 10_000_000n + BigInt(i) * 1_000_000n;
      return { t1, t2: t1 + 777_000n + 5_000n, t2x: t1 + 777_000n + 6_000n, t3: t1 + 11_000n };
    });
    const est = estimateOffset(ex);
    const session = { exchanges: ex, estimate: est, hostDomain: "host.monotonic", hostFrequencyHz: 1_000_000_000n, protocolVersion: 1, startedAt: new Date(0), endedAt: new Date(1000) } satisfies SyncResult;
    const file = mappingFileFromSessions([session, session], "test", { note: "x" });
    const parsed = parseMappingFile(serializeMappingFile(file));
    expect(parsed.kind).toBe("paravirt-estimate");
    expect(parsed.exact).toBe(false);
    expect(parsed.epochs).toHaveLength(2);
    expect(parsed.epochs[1]?.validFrom).toBe(ex[0]?.t1);
    expect(parsed.errorBound).toBe(est.errorBoundNs);
    const m = resolveMapping(parsed, mappingCodecRegistry([paravirtCodec]));
    const g = est.referenceGuestNs;
    expect(m.forward(g).value).toBe(g + est.offsetNs);
    expect(m.forward(g).epoch).toBe(1);
  });
});
