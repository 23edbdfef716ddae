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
  parseMappingFile,
  type MappingFile,
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

describe("mapping files: repeated keys, calendar dates and ordered boundaries (fuzz)", () => {
  const T0 = "2025-01-01T00:00:00Z";
  const base = (over: (j: any) => void = () => {}) => {
    const j: any = {
      schema: "clocksource.mapping/v1",
      kind: "test-kind",
      from: "guest.tsc",
      to: "host.tsc",
      createdAt: T0,
      producer: "fuzz",
      exact: true,
      errorBound: "0",
      origin: { note: { deeper: [1, { x: "y" }] } },
      epochs: [
        { observedAt: T0, lastObservedAt: null, validFrom: null, validUntil: "100", boundary: null, errorBound: "0", params: { a: "1", b: { c: "2" } } },
        {
          observedAt: T0,
          lastObservedAt: null,
          validFrom: "50",
          validUntil: null,
          boundary: { notBefore: T0, notAfter: T0, sourceFrom: "50", sourceUntil: "100" },
          errorBound: "0",
          vcpus: { "0": { a: "1" }, "1": { a: "2" } },
        },
      ],
    };
    over(j);
    return j;
  };

  /** JSON text of `v` where the `target`-th object (depth-first) gets an extra copy of one of its keys. */
  function withDuplicate(v: unknown, target: number, keyPick: number, extra: unknown, at: number): { text: string; key: string | null } {
    let index = 0;
    let dupKey: string | null = null;
    const emit = (x: unknown): string => {
      if (Array.isArray(x)) return `[${x.map(emit).join(",")}]`;
      if (x === null || typeof x !== "object") return JSON.stringify(x);
      const mine = index++;
      const members = Object.entries(x as Record<string, unknown>).map(([k, val]) => `${JSON.stringify(k)}:${emit(val)}`);
      const keys = Object.keys(x as Record<string, unknown>);
      if (mine === target && keys.length > 0) {
        dupKey = keys[keyPick % keys.length] as string;
        members.splice(at % (members.length + 1), 0, `${JSON.stringify(dupKey)}:${JSON.stringify(extra)}`);
      }
      return `{${members.join(",")}}`;
    };
    const text = emit(v);
    return { text, key: dupKey };
  }

  it("a repeated key anywhere in the file is refused, naming it; without one the file loads", () => {
    const doc = base();
    expect(() => parseMappingFile(JSON.stringify(doc))).not.toThrow();
    fc.assert(
      fc.property(fc.nat({ max: 12 }), fc.nat(), fc.jsonValue({ maxDepth: 1 }), fc.nat(), (target, keyPick, extra, at) => {
        const { text, key } = withDuplicate(doc, target, keyPick, extra, at);
        if (key === null) {
          expect(() => parseMappingFile(text)).not.toThrow();
          return;
        }
        let err: unknown;
        try {
          parseMappingFile(text);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ClocksourceError);
        expect((err as ClocksourceError).code).toBe("INVALID_MAPPING");
        expect((err as Error).message).toContain(`duplicate key ${JSON.stringify(key)}`);
      }),
      { numRuns: 500 },
    );
  });

  /** An independent oracle: does this calendar date and time exist? (Date.UTC rolls over; compare back.) */
  function exists(y: number, mo: number, d: number, h: number, mi: number, sec: number): boolean {
    if (h > 23 || mi > 59 || sec > 59) return false;
    const t = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
    return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
  }
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const dateArb = fc.record({
    y: fc.oneof(fc.constantFrom(1900, 2000, 2023, 2024, 2100, 2400), fc.integer({ min: 1600, max: 2500 })),
    mo: fc.integer({ min: 0, max: 13 }),
    d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 25 }),
    mi: fc.integer({ min: 0, max: 61 }),
    sec: fc.integer({ min: 0, max: 61 }),
    frac: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
  });
  const iso = (t: { y: number; mo: number; d: number; h: number; mi: number; sec: number; frac?: string | undefined }) =>
    `${pad(t.y, 4)}-${pad(t.mo)}-${pad(t.d)}T${pad(t.h)}:${pad(t.mi)}:${pad(t.sec)}${t.frac === undefined ? "" : `.${t.frac}`}Z`;

  it("a timestamp is accepted exactly when the date and time exist", () => {
    fc.assert(
      fc.property(dateArb, fc.constantFrom("createdAt", "observedAt", "lastObservedAt", "notBefore"), (t, where) => {
        const stamp = iso(t);
        const doc = base((j) => {
          if (where === "createdAt") j.createdAt = stamp;
          else if (where === "observedAt") j.epochs[0].observedAt = j.epochs[0].lastObservedAt = stamp;
          else if (where === "lastObservedAt") {
            j.epochs[0].observedAt = "1000-01-01T00:00:00Z";
            j.epochs[0].lastObservedAt = stamp;
          } else {
            j.epochs[1].boundary.notBefore = "1000-01-01T00:00:00Z";
            j.epochs[1].boundary.notAfter = stamp;
          }
        });
        const ok = exists(t.y, t.mo, t.d, t.h, t.mi, t.sec);
        if (ok) expect(() => parseMappingFile(JSON.stringify(doc))).not.toThrow();
        else expect(() => parseMappingFile(JSON.stringify(doc))).toThrow(/not a real date and time/);
      }),
      { numRuns: 1500 },
    );
  });

  /** Nanoseconds since the epoch, computed without the parser's own comparison. */
  const ns = (t: { y: number; mo: number; d: number; h: number; mi: number; sec: number; frac?: string | undefined }) =>
    BigInt(Date.UTC(t.y, t.mo - 1, t.d, t.h, t.mi, t.sec)) * 1_000_000n + BigInt((t.frac ?? "").padEnd(9, "0") || "0");
  const realDate = dateArb.filter((t) => exists(t.y, t.mo, t.d, t.h, t.mi, t.sec));
  const u64 = fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: 1000n }));

  it("a boundary is accepted exactly when its window and source range run forwards", () => {
    fc.assert(
      fc.property(realDate, realDate, u64, u64, (a, b, from, until) => {
        const doc = base((j) => {
          j.epochs[1].boundary = { notBefore: iso(a), notAfter: iso(b), sourceFrom: from.toString(), sourceUntil: until.toString() };
        });
        const ok = ns(a) <= ns(b) && from <= until;
        let file: MappingFile | undefined;
        try {
          file = parseMappingFile(JSON.stringify(doc));
        } catch (e) {
          expect((e as ClocksourceError).code).toBe("INVALID_MAPPING");
          expect((e as Error).message).toMatch(/\$\.epochs\[1\]\.boundary\.(notAfter|sourceUntil)/);
        }
        expect(file !== undefined).toBe(ok);
      }),
      { numRuns: 1500 },
    );
  });
});
