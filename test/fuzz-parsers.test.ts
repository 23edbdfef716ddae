// Property-based fuzzing of the parsers and decoders that read outside input
// (issue 6): CPUID dumps, device-tree property files, KVM debugfs values and
// mapping files. Garbage, truncation, huge values, wrong encodings, NUL bytes,
// CR LF and empty input must give a typed error or an explained "unknown" —
// never an uncaught exception, never a hang. (cpuinfo, kernel logs, u64 input:
// packages/core/test/parsers.fuzz.test.ts; protocol frames: packages/paravirt/test/protocol.test.ts;
// whole corrupted snapshots: test/fuzz-snapshots.test.ts.)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ClocksourceError, checkMappingParams, parseMappingFile, resolveMapping, U64_MAX } from "@clocksource/core";
import { decodeCells, decodeStringList, decodeU32 } from "@clocksource/arm";
import { formatCpuidR, parseCpuidDump, readKvmVmTsc, cpuidKey } from "@clocksource/x86";
import { mappingKinds } from "../packages/cli/src/mapping-kinds.js";
import { announceFixtureSkip, HAVE_FIXTURES, fixtureMachines, machineRoot } from "./support/fixtures.js";
import { scratchDirs } from "./support/hostile-tree.js";
import { existsSync } from "node:fs";

announceFixtureSkip();
const tempDir = scratchDirs();

/** Text damaged the ways real files are: any code points, NULs, CR LF, UTF-16, cuts, huge numbers. */
function damaged(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.nat(), fc.constantFrom("none", "crlf", "nul", "utf16", "truncate", "huge", "empty")).map(([t, at, how]) => {
    switch (how) {
      case "crlf":
        return t.replace(/\n/g, "\r\n");
      case "nul":
        return `${t.slice(0, at % (t.length + 1))}\u0000${t.slice(at % (t.length + 1))}`;
      case "utf16":
        return Buffer.from(t, "utf16le").toString("latin1");
      case "truncate":
        return t.slice(0, at % (t.length + 1));
      case "huge":
        return t.replace(/[0-9a-fA-F]{2,}/g, "ffffffffffffffffffffffffffffffff");
      case "empty":
        return "";
      default:
        return t;
    }
  });
}

const realDumps = HAVE_FIXTURES
  ? fixtureMachines().map((m) => join(machineRoot(m), "dev/cpu/0/cpuid")).filter((p) => existsSync(p)).map((p) => readFileSync(p, "latin1"))
  : [];

describe("CPUID dumps", () => {
  it("garbage and damaged real dumps parse or are refused with a reason", () => {
    const base = realDumps.length > 0 ? fc.oneof(fc.constantFrom(...realDumps), fc.string({ unit: "binary", maxLength: 300 })) : fc.string({ unit: "binary", maxLength: 300 });
    fc.assert(
      fc.property(damaged(base), (text) => {
        const r = parseCpuidDump(text);
        if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
        else for (const regs of r.dump.leaves.values()) for (const v of [regs.eax, regs.ebx, regs.ecx, regs.edx]) expect(v >>> 0).toBe(v);
      }),
      { numRuns: 400 },
    );
  });

  it("a dump written by formatCpuidR reads back identically", () => {
    const u32 = fc.nat({ max: 0xffffffff });
    const entry = fc.record({ leaf: u32, subleaf: fc.nat({ max: 64 }), regs: fc.record({ eax: u32, ebx: u32, ecx: u32, edx: u32 }) });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 30, selector: (e) => cpuidKey(e.leaf, e.subleaf) }), (entries) => {
        const r = parseCpuidDump(formatCpuidR(entries));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        for (const e of entries) expect(r.dump.leaves.get(cpuidKey(e.leaf, e.subleaf))).toMatchObject(e.regs);
      }),
      { numRuns: 200 },
    );
  });
});

describe("device-tree property files", () => {
  it("any bytes decode or are refused with a reason", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const r of [decodeStringList(bytes), decodeCells(bytes), decodeU32(bytes)]) if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });

  it("NUL-terminated string lists and big-endian cells round-trip", () => {
    const word = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789,-_.".split("")), minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 5 }), fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 6 }), (words, cells) => {
        expect(decodeStringList(new Uint8Array(Buffer.from(words.map((w) => `${w}\0`).join(""), "latin1")))).toEqual({ ok: true, value: words });
        const be = Buffer.alloc(cells.length * 4);
        cells.forEach((c, i) => be.writeUInt32BE(c, i * 4));
        expect(decodeCells(new Uint8Array(be))).toEqual({ ok: true, value: cells });
      }),
      { numRuns: 300 },
    );
  });
});

describe("KVM debugfs values", () => {
  const value = damaged(fc.oneof(fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }).map((v) => `${v}\n`), fc.string({ unit: "binary", maxLength: 30 }), fc.constantFrom("-0\n", "+5\n", " 7 \n", "0x10\n", "281474976710656\n", "48\n", "64\n")));

  it("a vCPU's files read as exact values or fail with a typed error naming the file", () => {
    fc.assert(
      fc.property(value, fc.option(value), fc.option(value), (offset, ratio, frac) => {
        const root = tempDir("cs-kvmfuzz-");
        const dir = join(root, "kvm/4242-12/vcpu0");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "tsc-offset"), offset, "latin1");
        if (ratio !== null) writeFileSync(join(dir, "tsc-scaling-ratio"), ratio, "latin1");
        if (frac !== null) writeFileSync(join(dir, "tsc-scaling-ratio-frac-bits"), frac, "latin1");
        try {
          const r = readKvmVmTsc(root, "4242-12");
          const p = r.vcpus.get(0)!;
          expect(p.offset >= -(1n << 63n) && p.offset < 1n << 63n).toBe(true);
          expect(p.ratio > 0n && p.ratio <= U64_MAX).toBe(true);
          expect(p.fracBits >= 0 && p.fracBits <= 63).toBe(true);
          expect(p.offset).toBe(BigInt(offset.trim()));
        } catch (e) {
          expect(e).toBeInstanceOf(ClocksourceError);
          expect((e as ClocksourceError).message).toMatch(/tsc-/);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("mapping files", () => {
  const valid = JSON.stringify({
    schema: "clocksource.mapping/v1", kind: "arm-cntvoff", from: "guest.cntvct", to: "host.cntpct",
    createdAt: "2026-11-26T05:49:54.628Z", producer: "fuzz", exact: true, errorBound: "0",
    epochs: [{ observedAt: "2026-11-26T05:49:54.628Z", lastObservedAt: null, validFrom: null, validUntil: null, boundary: null, errorBound: "0", params: { view: "virtual", voffset: "123456", widthBits: 64 } }],
  });

  /** Replaces one value somewhere in the document with something else. */
  function mutate(doc: unknown, path: number[], replacement: unknown): unknown {
    if (path.length === 0 || doc === null || typeof doc !== "object") return replacement;
    const entries = Object.entries(doc as Record<string, unknown>);
    if (entries.length === 0) return replacement;
    const [k, v] = entries[(path[0] as number) % entries.length] as [string, unknown];
    const copy: Record<string, unknown> | unknown[] = Array.isArray(doc) ? [...doc] : { ...(doc as Record<string, unknown>) };
    (copy as Record<string, unknown>)[k] = mutate(v, path.slice(1), replacement);
    return copy;
  }

  function load(text: string): void {
    const file = parseMappingFile(text);
    const registry = mappingKinds();
    checkMappingParams(file, registry);
    const m = resolveMapping(file, registry);
    void m;
  }

  it("mutated and damaged files load, or fail with INVALID_MAPPING", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), fc.boolean(), (path, replacement, raw) => {
        const text = raw ? JSON.stringify(mutate(JSON.parse(valid), path, replacement)).slice(0, path.reduce((a, b) => a + b, 0) % 900 + 100) : JSON.stringify(mutate(JSON.parse(valid), path, replacement));
        try {
          load(text);
        } catch (e) {
          expect(e).toBeInstanceOf(ClocksourceError);
          expect(["INVALID_MAPPING", "INVALID_U64"]).toContain((e as ClocksourceError).code);
        }
      }),
      { numRuns: 500 },
    );
    expect(() => load(valid)).not.toThrow();
  });

  it("arbitrary text is refused with a typed error", () => {
    fc.assert(
      fc.property(damaged(fc.string({ unit: "binary", maxLength: 200 })), (text) => {
        expect(() => load(text)).toThrow(ClocksourceError);
      }),
      { numRuns: 300 },
    );
  });
});
