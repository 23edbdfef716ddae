import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isClocksourceError, mappingCodecRegistry, parseMappingFile, resolveMapping, serializeMappingFile, U64_MAX } from "@clocksource/core";
import { estimateOffset, mappingFileFromSessions, paravirtBoundAt, paravirtCodec, type ParavirtParams, type SyncResult } from "../src/index.js";
import { paramsArb } from "./params-arb.js";

/** A session whose exchanges put the host `offset` ns ahead of the guest, exactly. */
function sessionWith(offset: bigint): SyncResult {
  const ex = Array.from({ length: 30 }, (_, i) => {
    const t1 = 10_000_000n + BigInt(i) * 1_000_000n;
    return { t1, t2: t1 + offset + 5_000n, t2x: t1 + offset + 5_000n, t3: t1 + 10_000n };
  });
  return { exchanges: ex, estimate: estimateOffset(ex), hostDomain: "host.monotonic", hostFrequencyHz: 1_000_000_000n, protocolVersion: 1, startedAt: new Date(0), endedAt: new Date(1000) };
}

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

  it("a host value below the image of guest 0 is OUT_OF_RANGE, like one above the top (both ends alike)", () => {
    // host = guest + 500: host 0..499 precede guest time 0 and have no guest time
    const p: ParavirtParams = { referenceGuestNs: 0n, offsetNs: 500n, driftPpt: 0n, errorBoundNs: 0n, driftBoundPpt: 0n, hostTicksPerSecond: null };
    const f = paravirtCodec.create(p, { vcpu: null, epoch: 0 });
    expect(f.inverse(500n)).toBe(0n);
    expect(f.inverse(501n)).toBe(1n);
    for (const h of [0n, 1n, 499n]) expect(() => f.inverse(h)).toThrow(/before the image of guest time 0 \(500\)/);
    // the mirror case at the top: host = guest − 500 leaves the last 500 host values without a guest time
    const top = paravirtCodec.create({ ...p, offsetNs: -500n }, { vcpu: null, epoch: 0 });
    expect(top.inverse(U64_MAX - 500n)).toBe(U64_MAX);
    expect(() => top.inverse(U64_MAX - 499n)).toThrow(/beyond the image/);
    fc.assert(
      // host values near guest 0's image (where the bottom end is) and anywhere
      fc.property(paramsArb, fc.oneof(fc.bigInt({ min: 0n, max: 2n * 10n ** 15n }), fc.bigInt({ min: 0n, max: U64_MAX })), (q, h) => {
        const g = paravirtCodec.create(q, { vcpu: null, epoch: 0 });
        const atZero = (() => {
          try {
            return g.forward(0n);
          } catch (e) {
            if (!isClocksourceError(e, "OUT_OF_RANGE")) throw e;
            return null; // guest 0 maps below 0 or above 2^64-1
          }
        })();
        let ok = true;
        try {
          g.inverse(h);
        } catch (e) {
          if (!isClocksourceError(e, "OUT_OF_RANGE")) throw e;
          ok = false;
          if (/before the image/.test((e as Error).message)) expect(atZero === null || atZero > h).toBe(true);
        }
        // an answer is never the silent 0 of an input below guest 0's image
        if (ok && atZero !== null && h < atZero) expect.unreachable(`inverse(${h}) answered though guest 0 maps to ${atZero}`);
      }),
      { numRuns: 300 },
    );
    // the CLI's "--reverse" path goes through resolveMapping: same error there
    const file = parseMappingFile(serializeMappingFile(mappingFileFromSessions([sessionWith(500n)], "test", {})));
    const m = resolveMapping(file, mappingCodecRegistry([paravirtCodec]), { epoch: 0 });
    expect(() => m.inverse(0n)).toThrow(/before the image of guest time 0/);
  });

  it("declares the domains it maps and refuses others", () => {
    const file = mappingFileFromSessions([sessionWith(500n)], "test", {});
    const reg = mappingCodecRegistry([paravirtCodec]);
    expect(() => resolveMapping(parseMappingFile(serializeMappingFile({ ...file, to: "host.tsc" })), reg)).not.toThrow();
    expect(() => resolveMapping(parseMappingFile(serializeMappingFile({ ...file, from: "guest.tsc" })), reg)).toThrow(/\$\.from: kind paravirt-estimate maps guest.monotonic → host.monotonic, guest.monotonic → host.tsc/);
    expect(() => resolveMapping(parseMappingFile(serializeMappingFile({ ...file, to: "host.cntpct" })), reg)).toThrow(/\$\.to: kind paravirt-estimate/);
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
