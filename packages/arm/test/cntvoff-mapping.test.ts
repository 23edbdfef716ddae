import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildMappingFile, isClocksourceError, mappingCodecRegistry, parseMappingFile, resolveMapping, serializeMappingFile, U64_MAX } from "@clocksource/core";
import { armCntvoffCodec, cntvoffMapping, epochsFromJsonLines, guestToHost, hostToGuest, viewDomains, type CntvoffParams } from "../src/index.js";

const WIDTHS = [56, 57, 61, 64] as const;
const registry = mappingCodecRegistry([armCntvoffCodec]);

/** Values a w-bit counter takes, biased to the edges: 0, 1, 2^w − 1, 2^w − 2, around 2^(w−1), and random. */
function counterValue(w: number) {
  const top = (1n << BigInt(w)) - 1n;
  return fc.oneof(
    fc.constantFrom(0n, 1n, 2n, top, top - 1n, top - 2n, 1n << BigInt(w - 1), (1n << BigInt(w - 1)) - 1n),
    fc.bigInt({ min: 0n, max: 1000n }),
    fc.bigInt({ min: top - 1000n, max: top }),
    fc.bigInt({ min: 0n, max: top }),
  );
}

/** Offsets biased to 0 and 2^64 − 1 (a guest whose counter starts after the host's, wrapping). */
const offset = fc.oneof(
  fc.constantFrom(0n, 1n, U64_MAX, U64_MAX - 1n, 1n << 63n, (1n << 56n) - 1n, 1n << 56n, (1n << 57n) + 5n),
  fc.bigInt({ min: 0n, max: 1_000_000n }),
  fc.bigInt({ min: U64_MAX - 1_000_000n, max: U64_MAX }),
  fc.bigInt({ min: 0n, max: U64_MAX }),
);

describe("guest.cntvct ↔ host.cntpct offset mapping at wrap boundaries", () => {
  for (const w of WIDTHS) {
    const mod = 1n << BigInt(w);
    it(`w = ${w}: forward/inverse round-trip, stay in range and match the definition`, () => {
      fc.assert(
        fc.property(counterValue(w), counterValue(w), offset, (g, h, off) => {
          const fwd = guestToHost(g, off, w);
          const inv = hostToGuest(h, off, w);
          expect(fwd >= 0n && fwd < mod).toBe(true);
          expect(inv >= 0n && inv < mod).toBe(true);
          expect(hostToGuest(fwd, off, w)).toBe(g);
          expect(guestToHost(inv, off, w)).toBe(h);
          // The architecture's definition: virt = (phys − voffset) mod 2^64, seen through a w-bit counter.
          expect(inv).toBe(((h - off) % (1n << 64n) + (1n << 64n)) % (1n << 64n) % mod);
          expect(fwd).toBe((g + off) % mod);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it("the mapping function (precomputed mask, used by convert) is bit-identical to the reference", () => {
    for (const w of WIDTHS) {
      fc.assert(
        fc.property(counterValue(w), counterValue(w), offset, (g, h, off) => {
          const fn = cntvoffMapping({ view: "virtual", voffset: off, poffset: null, widthBits: w });
          expect(fn.forward(g)).toBe(guestToHost(g, off, w));
          expect(fn.inverse(h)).toBe(hostToGuest(h, off, w));
        }),
        { numRuns: 1000 },
      );
    }
    // Inputs beyond 64 bits are refused by both.
    expect(() => cntvoffMapping({ view: "virtual", voffset: 0n, poffset: null, widthBits: 56 }).inverse(1n << 64n)).toThrow(/not an unsigned 64-bit/);
  });

  it("wraps exactly at the edges", () => {
    expect(hostToGuest(0n, 1n, 56)).toBe((1n << 56n) - 1n);
    expect(hostToGuest(0n, 1n, 64)).toBe(U64_MAX);
    expect(guestToHost((1n << 57n) - 1n, 1n, 57)).toBe(0n);
    expect(guestToHost(U64_MAX, U64_MAX, 64)).toBe(U64_MAX - 1n);
    // An offset above the counter's range acts through its low w bits.
    expect(guestToHost(5n, (1n << 61n) + 3n, 61)).toBe(8n);
  });

  it("a 64-bit register value with high bits set (host counter below the offset) maps like its low w bits", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }), offset, (phys, off) => {
        const register = BigInt.asUintN(64, phys - off); // what user space reads from CNTVCT_EL0
        expect(guestToHost(register, off, 56)).toBe(phys);
        expect(guestToHost(BigInt.asUintN(56, register), off, 56)).toBe(phys);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects widths outside 56..64 and values that are not u64", () => {
    expect(() => guestToHost(0n, 0n, 55)).toThrow(/56\.\.64/);
    expect(() => guestToHost(0n, 0n, 65)).toThrow(/56\.\.64/);
    expect(() => guestToHost(-1n, 0n, 64)).toThrow(/not an unsigned 64-bit/);
    expect(() => hostToGuest(1n << 64n, 0n, 64)).toThrow(/not an unsigned 64-bit/);
  });

  it("the physical view uses poffset (FEAT_ECV), the virtual one voffset", () => {
    const p: CntvoffParams = { view: "physical", voffset: 1000n, poffset: 10n, widthBits: 64 };
    expect(cntvoffMapping(p).forward(5n)).toBe(15n);
    expect(cntvoffMapping({ ...p, view: "virtual" }).forward(5n)).toBe(1005n);
    expect(() => cntvoffMapping({ ...p, poffset: null })).toThrow(/poffset/);
    expect(viewDomains("physical")).toEqual({ from: "guest.cntpct", to: "host.cntpct" });
  });
});

describe("the arm-cntvoff codec in the shared mapping-file envelope", () => {
  it("round-trips its parameters", () => {
    fc.assert(
      fc.property(offset, fc.option(offset, { nil: null }), fc.constantFrom(...WIDTHS), fc.constantFrom("virtual", "physical"), (v, p, w, view) => {
        const params: CntvoffParams = { view: view as "virtual" | "physical", voffset: v, poffset: view === "physical" ? (p ?? 0n) : p, widthBits: w };
        expect(armCntvoffCodec.parseParams(armCntvoffCodec.serializeParams(params), "$")).toEqual(params);
      }),
      { numRuns: 300 },
    );
  });

  it("is strict about its fields", () => {
    const ok = { view: "virtual", voffset: "1", widthBits: 56 };
    expect(() => armCntvoffCodec.parseParams({ ...ok, voffset: 1 }, "$.p")).toThrow(/\$\.p\.voffset: expected a u64 as a decimal string/);
    expect(() => armCntvoffCodec.parseParams({ ...ok, widthBits: 55 }, "$.p")).toThrow(/\$\.p\.widthBits/);
    expect(() => armCntvoffCodec.parseParams({ ...ok, extra: 1 }, "$.p")).toThrow(/\$\.p\.extra: unknown field/);
    expect(() => armCntvoffCodec.parseParams({ ...ok, view: "physical" }, "$.p")).toThrow(/\$\.p\.poffset: missing/);
    expect(() => armCntvoffCodec.parseParams({ ...ok, voffset: "18446744073709551616" }, "$.p")).toThrow(/exceeds 2\^64-1/);
  });

  it("builds, serializes and resolves a file; epochs are chosen by the guest counter", () => {
    const { epochs, overlapping } = epochsFromJsonLines(
      [
        '{"observedAt":"2025-01-01T00:00:00Z","voffset":"1000"}',
        "# paused and resumed: QEMU wrote TIMER_CNT = 5000 back",
        '{"observedAt":"2025-01-01T00:05:00Z","voffset":"90000","validFrom":"5000"}',
        '{"observedAt":"2025-01-01T01:00:00Z","voffset":"100000","hostCounter":"200000"}',
      ].join("\n"),
      "virtual",
      56,
    );
    expect(overlapping).toBe(false);
    // Third epoch: validFrom = host 200000 − voffset 100000.
    // The last epoch ends half the counter's range (2^55 ticks at w = 56) after it starts.
    expect(epochs.map((e) => [e.validFrom, e.validUntil])).toEqual([[null, 5000n], [5000n, 100000n], [100000n, 100000n + (1n << 55n)]]);
    const file = buildMappingFile(armCntvoffCodec, { ...viewDomains("virtual"), producer: "test", epochs, createdAt: "2025-01-01T02:00:00Z" });
    const again = parseMappingFile(serializeMappingFile(file));
    const m = resolveMapping(again, registry);
    expect(m.forward(4999n)).toEqual({ value: 5999n, epoch: 0, ambiguous: false });
    expect(m.forward(5000n)).toEqual({ value: 95000n, epoch: 1, ambiguous: false });
    expect(m.forward(99999n)).toEqual({ value: 189999n, epoch: 1, ambiguous: false });
    expect(m.forward(100000n)).toEqual({ value: 200000n, epoch: 2, ambiguous: false });
    expect(m.inverse(95000n)).toEqual({ value: 5000n, epoch: 1, ambiguous: false });
    expect(m.inverse(5999n).value).toBe(4999n);
    // Host 95000 through the last epoch's offset wraps to 2^56 − 5000: outside its bounded range, so epoch 1 answers.
    expect(m.functions[2]!.inverse(95000n)).toBe((1n << 56n) - 5000n);
    expect(m.inverse(200000n)).toEqual({ value: 100000n, epoch: 2, ambiguous: false });
  });

  it("epochs without validFrom overlap and say so; bad lines are named", () => {
    const r = epochsFromJsonLines('{"observedAt":"2025-01-01T00:00:00Z","voffset":"1"}\n{"observedAt":"2025-01-01T00:00:01Z","voffset":"2"}\n', "virtual", 64);
    expect(r.overlapping).toBe(true);
    expect(() => epochsFromJsonLines('{"observedAt":"2025-01-01T00:00:00Z"}', "virtual", 64)).toThrow(/line 1\.voffset: missing/);
    expect(() => epochsFromJsonLines("not json", "virtual", 64)).toThrow(/line 1: not JSON/);
    expect(() => epochsFromJsonLines("", "virtual", 64)).toThrow(/no JSON lines/);
    expect(() =>
      epochsFromJsonLines('{"observedAt":"2025-01-01T00:00:00Z","voffset":"1","validFrom":"10"}\n{"observedAt":"2025-01-01T00:00:01Z","voffset":"2","validFrom":"10"}', "virtual", 64),
    ).toThrow(/line 2\.validFrom: 10 is not after line 1's 10/);
    expect(() => epochsFromJsonLines('{"observedAt":"2025-01-02T00:00:00Z","voffset":"1"}\n{"observedAt":"2025-01-01T00:00:00Z","voffset":"2"}', "virtual", 64)).toThrow(/line 2\.observedAt: earlier/);
  });

  it("rejects a validFrom the counter cannot hold instead of wrapping it", () => {
    const line = (validFrom: bigint) => `{"observedAt":"2025-01-01T00:00:00Z","voffset":"1"}\n{"observedAt":"2025-01-01T00:00:01Z","voffset":"2","validFrom":"${validFrom}"}`;
    // 2^56 + 5 used to become 5 at 56 bits.
    let err: unknown;
    try {
      epochsFromJsonLines(line((1n << 56n) + 5n), "virtual", 56);
    } catch (e) {
      err = e;
    }
    expect(isClocksourceError(err) && err.code).toBe("INVALID_MAPPING");
    expect((err as Error).message).toMatch(/line 2\.validFrom: 72057594037927941 does not fit the 56-bit counter \(at most 72057594037927935\)/);
    // The largest value the counter holds is accepted as given.
    expect(epochsFromJsonLines(line((1n << 56n) - 1n), "virtual", 56).epochs[1]?.validFrom).toBe((1n << 56n) - 1n);
    expect(epochsFromJsonLines(line((1n << 64n) - 1n), "virtual", 64).epochs[1]?.validFrom).toBe((1n << 64n) - 1n);
  });
});
