import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { agreesWithBanner, kernelCounterWidth, MIN_ROLLOVER_SECONDS, orderFrequencyCandidates, parseBogomipsHundredths, rateAboveWidth, rateFromBogomipsHundredths, type FrequencyCandidate } from "../src/index.js";

describe("the counter width the arch-timer driver assumes", () => {
  it("gives the worked values", () => {
    // 56 bits for the common rates; 57 for 62.5 and 100 MHz; 61 for the Armv8.6 1 GHz counter.
    for (const hz of [1_920_000, 19_200_000, 24_000_000, 25_000_000, 50_000_000]) expect(kernelCounterWidth(hz), String(hz)).toBe(56);
    expect(kernelCounterWidth(62_500_000)).toBe(57);
    expect(kernelCounterWidth(100_000_000)).toBe(57);
    expect(kernelCounterWidth(1_000_000_000)).toBe(61);
  });

  it("is the smallest width (56..64) that does not wrap within 40 years", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 40n }), (rate) => {
        const w = kernelCounterWidth(rate);
        expect(w >= 56 && w <= 64).toBe(true);
        const ticks = MIN_ROLLOVER_SECONDS * rate;
        if (w < 64) expect((1n << BigInt(w)) >= ticks).toBe(true); // 2^w ticks last at least 40 years
        if (w > 56) expect((1n << BigInt(w - 1)) < ticks).toBe(true); // one bit fewer would not
      }),
      { numRuns: 1000 },
    );
  });

  it("steps exactly at the threshold rates", () => {
    for (const w of [56, 57, 60, 63]) {
      const r = rateAboveWidth(w);
      expect(kernelCounterWidth(r - 1n), `below ${r}`).toBeLessThanOrEqual(w);
      expect(kernelCounterWidth(r), `at ${r}`).toBe(w + 1);
    }
    expect(rateAboveWidth(56)).toBe(57_123_283n);
    expect(kernelCounterWidth(1n << 40n)).toBe(64);
  });
});

describe("BogoMIPS → rate (arm64 heuristic)", () => {
  it("reads the printed figure exactly", () => {
    expect(parseBogomipsHundredths("38.40")).toBe(3840);
    expect(parseBogomipsHundredths("2000.00")).toBe(200000);
    expect(parseBogomipsHundredths(" 3.84 ")).toBe(384);
    expect(parseBogomipsHundredths("48")).toBe(4800);
    expect(parseBogomipsHundredths("1.5")).toBe(150);
    for (const bad of ["", "abc", "-1.00", "1.234", "1e3"]) expect(parseBogomipsHundredths(bad), bad).toBeNull();
  });

  it("gives 2 × rate / 10^6 back as Hz", () => {
    expect(rateFromBogomipsHundredths(3840)).toBe(19_200_000);
    expect(rateFromBogomipsHundredths(200000)).toBe(1_000_000_000);
    expect(rateFromBogomipsHundredths(16666)).toBe(83_330_000);
  });
});

describe("ordering frequency sources", () => {
  const c = (kind: FrequencyCandidate["kind"], hz: number): FrequencyCandidate => ({ kind, hz, source: kind, confidence: kind === "bogomips" ? "heuristic" : "definitive", note: "", uncertaintyHz: 0 });

  it("puts the device tree first and BogoMIPS last", () => {
    expect(orderFrequencyCandidates([c("bogomips", 1), c("cntfrq", 2), c("device-tree", 3)]).map((x) => x.kind)).toEqual(["device-tree", "cntfrq", "bogomips"]);
  });

  it("puts an exact figure that agrees with the banner before it, one that disagrees after it", () => {
    expect(agreesWithBanner(19_204_999, 19_200_000)).toBe(true);
    expect(agreesWithBanner(19_210_000, 19_200_000)).toBe(false);
    expect(orderFrequencyCandidates([c("banner", 24_000_000), c("cntfrq", 24_000_000)]).map((x) => x.kind)).toEqual(["cntfrq", "banner"]);
    expect(orderFrequencyCandidates([c("banner", 24_000_000), c("cntfrq", 25_000_000)]).map((x) => x.kind)).toEqual(["banner", "cntfrq"]);
  });
});
