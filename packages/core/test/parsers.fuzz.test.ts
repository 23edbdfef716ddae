import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  archFromCpuinfo,
  ClocksourceError,
  decodeText,
  parseClocksourceList,
  parseCpuinfo,
  parseI64,
  parseKernelLog,
  parseU64,
  U64_MAX,
} from "../src/index.js";

/** Text a broken or hostile file could hold: any code points, NULs, CR LF, very long lines. */
const nastyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 400 }),
  fc.array(fc.constantFrom("processor\t: 0", "flags : lm tsc", "Features : fp asimd", "\r\n", "\n", "\u0000", ":", " : ", "vendor_id:", "[ 0.0] ", "<6>", "\ufffd", "x".repeat(3000)), { maxLength: 40 }).map((a) => a.join("")),
);

describe("parsers never throw on garbage", () => {
  it("cpuinfo and the architecture rule", () => {
    fc.assert(
      fc.property(nastyText, (t) => {
        const blocks = parseCpuinfo(t);
        for (const b of blocks) for (const [k] of b) expect(k).toBe(k.trim().toLowerCase());
        const r = archFromCpuinfo(t);
        expect(r.why.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });

  it("kernel log lines keep their line numbers in order", () => {
    fc.assert(
      fc.property(nastyText, (t) => {
        const lines = parseKernelLog(t);
        for (let i = 1; i < lines.length; i++) expect(lines[i]!.lineNumber).toBeGreaterThan(lines[i - 1]!.lineNumber);
        for (const l of lines) expect(l.uptime === null || Number.isFinite(l.uptime)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("clocksource lists are either all names or rejected", () => {
    fc.assert(
      fc.property(nastyText, (t) => {
        const r = parseClocksourceList(t);
        if (r) for (const n of r) expect(n).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
      }),
      { numRuns: 1000 },
    );
  });

  it("text decoding accepts any bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void decodeText(b)), { numRuns: 1000 });
  });
});

describe("u64 input on the command line and in files", () => {
  it("round-trips every u64 in decimal and hex", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (v) => {
        expect(parseU64(v.toString())).toBe(v);
        expect(parseU64(`0x${v.toString(16)}`)).toBe(v);
        expect(parseU64(`  ${v}\t`)).toBe(v);
      }),
    );
  });

  it("accepts nothing else, with a typed error", () => {
    for (const bad of ["", " ", "-1", "+1", "1e3", "1_000", "0x", "0xg", "18446744073709551616", "0x10000000000000000", "1.0", "١٢", "0b101", "NaN"]) {
      expect(() => parseU64(bad)).toThrow(ClocksourceError);
    }
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
        try {
          const v = parseU64(s);
          expect(v >= 0n && v <= U64_MAX).toBe(true);
          expect(s.trim()).toMatch(/^(?:[0-9]+|0[xX][0-9a-fA-F]+)$/);
        } catch (e) {
          expect(e).toBeInstanceOf(ClocksourceError);
          expect((e as ClocksourceError).code).toBe("INVALID_U64");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("parses signed 64-bit values like the kernel's %lld, rejecting overflow", () => {
    expect(parseI64("-9223372036854775808")).toBe(-(1n << 63n));
    expect(parseI64("9223372036854775807")).toBe((1n << 63n) - 1n);
    expect(() => parseI64("9223372036854775808")).toThrow(ClocksourceError);
    fc.assert(fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (v) => {
      expect(parseI64(`${v}\n`)).toBe(v);
    }));
  });
});
