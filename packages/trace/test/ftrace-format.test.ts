/**
 * Event `format` files, the tracing-data block and the per-format field
 * decoders: real format files from this machine's tracefs and from the
 * committed trace.dat files, and property tests that encode random values the
 * way the kernel lays them out and decode them back.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isClocksourceError } from "@clocksource/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFieldDecoder, parseEventFormat, parseHeaderPage, parseTracingData, type EventFormat } from "../src/ftrace/index.js";
import { fixtureFile } from "./support/trace-dat-fixtures.js";

const EVENTS = "/sys/kernel/tracing/events";
const haveTracefs = existsSync(join(EVENTS, "sched", "sched_switch", "format"));
if (!haveTracefs) console.log(`ftrace-format: live format files skipped: ${EVENTS} is not readable`);

function* formatFiles(): Generator<{ system: string; path: string }> {
  for (const system of readdirSync(EVENTS)) {
    const sdir = join(EVENTS, system);
    if (!statSync(sdir).isDirectory()) continue;
    for (const ev of readdirSync(sdir)) {
      const p = join(sdir, ev, "format");
      if (existsSync(p)) yield { system, path: p };
    }
  }
}

describe("parseEventFormat on real format files", () => {
  it.skipIf(!haveTracefs)("parses every event format this kernel exposes", () => {
    const ids = new Map<number, string>();
    let n = 0;
    let dynamic = 0;
    for (const { system, path } of formatFiles()) {
      const f = parseEventFormat(readFileSync(path, "latin1"), system);
      n++;
      expect(ids.has(f.id), `${path} repeats ID ${f.id} of ${ids.get(f.id)}`).toBe(false);
      ids.set(f.id, path);
      expect(f.commonFields.map((c) => c.name)).toContain("common_pid");
      for (const fl of f.fields) {
        expect(fl.common).toBe(false);
        if (fl.dynamic) {
          dynamic++;
          expect(fl.size).toBe(4);
        }
        if (fl.arrayLength !== null && fl.arrayLength > 0 && fl.elementSize !== null) expect(fl.elementSize * fl.arrayLength).toBe(fl.size);
        if (fl.isString) expect(fl.elementType).toMatch(/char$/);
      }
    }
    expect(n).toBeGreaterThan(100);
    expect(dynamic).toBeGreaterThan(0);
  });

  it("reads sched_switch and ftrace:print as the kernel declares them", () => {
    const td = parseTracingData(readFileSync(fixtureFile("sched-x86tsc", "v6")), true, "sched-x86tsc-v6.dat");
    const byName = new Map([...td.formats.values()].map((f) => [`${f.system}:${f.name}`, f]));
    const sw = byName.get("sched:sched_switch") as EventFormat;
    expect(sw.fields.map((f) => [f.name, f.offset, f.size, f.signed, f.isString])).toEqual([
      ["prev_comm", 8, 16, false, true],
      ["prev_pid", 24, 4, true, false],
      ["prev_prio", 28, 4, true, false],
      ["prev_state", 32, 8, true, false],
      ["next_comm", 40, 16, false, true],
      ["next_pid", 56, 4, true, false],
      ["next_prio", 60, 4, true, false],
    ]);
    expect(sw.printFmt).toMatch(/^"prev_comm=%s/);
    const pr = byName.get("ftrace:print") as EventFormat;
    expect(pr.fields.map((f) => [f.name, f.arrayLength, f.isString])).toEqual([
      ["ip", null, false],
      ["buf", 0, true],
    ]);
  });
});

describe("parseTracingData", () => {
  const v6 = readFileSync(fixtureFile("two-buffer-mono", "v6"));

  it("reads the tracing data at the head of a trace.dat v6", () => {
    const td = parseTracingData(v6, true, "two-buffer-mono-v6.dat");
    expect(td.version).toBe("6");
    expect(td.littleEndian).toBe(true);
    expect(td.longSize).toBe(8);
    expect(td.pageSize).toBe(4096);
    expect(td.headerPage).toEqual({ timestampOffset: 0, timestampSize: 8, commitOffset: 8, commitSize: 8, dataOffset: 16, dataSize: 4080 });
    expect([...td.formats.values()].map((f) => `${f.system}:${f.name}`).sort()).toEqual(["ftrace:print", "sched:sched_switch"]);
    expect(td.cmdlines.size).toBeGreaterThan(0);
    expect(td.warnings).toEqual([]);
    // What follows is the CPU count the v6 header goes on with.
    expect(new DataView(v6.buffer, v6.byteOffset + td.end, 4).getUint32(0, true)).toBe(2);
  });

  it("reads perf's form (own header, version 0.6) and the bare block alike", () => {
    const full = parseTracingData(v6, true, "v6");
    const bare = v6.subarray(v6.indexOf(new TextEncoder().encode("header_page\0"), 0), full.end);
    const perfHeader = new Uint8Array([0x17, 0x08, 0x44, ...new TextEncoder().encode("tracing0.6\0"), 0, 8, 0, 0x10, 0, 0]);
    const perf = new Uint8Array(perfHeader.length + bare.length);
    perf.set(perfHeader);
    perf.set(bare, perfHeader.length);
    const a = parseTracingData(perf, true, "perf.data");
    const b = parseTracingData(bare, true, "bare");
    expect(a.version).toBe("0.6");
    expect(b.version).toBeNull();
    for (const td of [a, b]) {
      expect([...td.formats.keys()].sort()).toEqual([...full.formats.keys()].sort());
      expect(td.cmdlines).toEqual(full.cmdlines);
      expect(td.headerPage).toEqual(full.headerPage);
    }
  });

  it("a perf block without cmdlines (tracing data 0.5) ends after the printk formats", () => {
    const full = parseTracingData(v6, true, "v6");
    const start = v6.indexOf(new TextEncoder().encode("header_page\0"), 0);
    // Find the end of the printk block: cut just before the cmdlines size word.
    let cut = full.end;
    const dv = new DataView(v6.buffer, v6.byteOffset);
    for (let p = start; p < full.end - 8; p++) {
      if (dv.getBigUint64(p, true) === BigInt(full.end - p - 8)) {
        cut = p;
        break;
      }
    }
    const td = parseTracingData(v6.subarray(start, cut), true, "perf 0.5");
    expect(td.cmdlines.size).toBe(0);
    expect(td.formats.size).toBe(full.formats.size);
  });

  it("names the offset when the block is damaged, and never throws anything but INVALID_TRACE", () => {
    const full = parseTracingData(v6, true, "v6");
    const block = v6.subarray(0, full.end);
    expect(() => parseTracingData(block.subarray(0, 200), true, "cut.dat")).toThrow(/cut\.dat: offset 0x[0-9a-f]+: truncated/);
    fc.assert(
      fc.property(fc.nat(block.length), fc.array(fc.tuple(fc.nat(block.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (cut, flips) => {
        const b = Uint8Array.from(block.subarray(0, cut));
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        try {
          parseTracingData(b, true, "fuzz");
        } catch (e) {
          if (!isClocksourceError(e, "INVALID_TRACE")) throw e;
          expect((e as Error).message).toMatch(/^fuzz: offset 0x[0-9a-f]+: /);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a format file that does not parse is a warning, its ID stays unknown", () => {
    const bad = Uint8Array.from(v6);
    const at = Buffer.from(bad.buffer).indexOf("name: sched_switch\nID:");
    bad.set(new TextEncoder().encode("IX"), at + "name: sched_switch\n".length);
    const td = parseTracingData(bad, true, "bad.dat");
    expect([...td.formats.values()].map((f) => f.name)).toEqual(["print"]);
    expect(td.warnings).toHaveLength(1);
    expect(td.warnings[0]).toMatch(/^bad\.dat: offset 0x[0-9a-f]+: event format \(sched\): event sched_switch has no ID/);
  });
});

describe("parseEventFormat errors", () => {
  const good = "name: x\nID: 7\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:int v;\toffset:8;\tsize:4;\tsigned:1;\n\nprint fmt: \"%d\", REC->v\n";

  it("parses the minimal form", () => {
    const f = parseEventFormat(good, "s");
    expect(f).toMatchObject({ system: "s", name: "x", id: 7, printFmt: '"%d", REC->v' });
  });

  it.each([
    ["no name", good.replace("name: x\n", "")],
    ["no ID", good.replace("ID: 7\n", "")],
    ["bad ID", good.replace("ID: 7", "ID: seven")],
    ["no offset", good.replace("offset:8;", "")],
    ["garbage line", good.replace("\tfield:int v;", "\tfeld:int v;")],
    ["dynamic size", good.replace("field:int v;\toffset:8;\tsize:4;", "field:__data_loc char[] v;\toffset:8;\tsize:2;")],
  ])("%s is a typed error", (_, text) => {
    expect(() => parseEventFormat(text, "s", 8, "f.dat")).toThrow(expect.objectContaining({ code: "INVALID_TRACE", message: expect.stringMatching(/^f\.dat: event format \(s\): /) }));
  });

  it("random text never escapes as anything but INVALID_TRACE", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.nat(good.length), (junk, at) => {
        try {
          parseEventFormat(good.slice(0, at) + junk + good.slice(at), "s");
        } catch (e) {
          if (!isClocksourceError(e, "INVALID_TRACE")) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseHeaderPage", () => {
  it("reads a 32-bit kernel's layout and falls back when a field is missing", () => {
    const h32 = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;\n\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;\n";
    expect(parseHeaderPage(h32, 8)).toMatchObject({ commitSize: 4, dataOffset: 12, dataSize: 4084, fallbacks: [] });
    expect(parseHeaderPage("", 4)).toMatchObject({ commitSize: 4, dataOffset: 12, fallbacks: ["timestamp", "commit", "data"] });
  });
});

// A format with every kind of field, laid out as the kernel does.
const SYNTH = [
  "name: synth",
  "ID: 999",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:u8 a_u8;\toffset:8;\tsize:1;\tsigned:0;",
  "\tfield:s8 a_s8;\toffset:9;\tsize:1;\tsigned:1;",
  "\tfield:u16 a_u16;\toffset:10;\tsize:2;\tsigned:0;",
  "\tfield:short a_s16;\toffset:12;\tsize:2;\tsigned:1;",
  "\tfield:u32 a_u32;\toffset:16;\tsize:4;\tsigned:0;",
  "\tfield:int a_s32;\toffset:20;\tsize:4;\tsigned:1;",
  "\tfield:u64 a_u64;\toffset:24;\tsize:8;\tsigned:0;",
  "\tfield:long a_s64;\toffset:32;\tsize:8;\tsigned:1;",
  "\tfield:char comm[16];\toffset:40;\tsize:16;\tsigned:0;",
  "\tfield:unsigned int arr[3];\toffset:56;\tsize:12;\tsigned:0;",
  "\tfield:__data_loc char[] name;\toffset:68;\tsize:4;\tsigned:0;",
  "\tfield:__rel_loc char[] rel;\toffset:72;\tsize:4;\tsigned:0;",
  "\tfield:__data_loc unsigned long[] longs;\toffset:76;\tsize:4;\tsigned:0;",
  "\tfield:u8 mac[6];\toffset:80;\tsize:6;\tsigned:0;",
  "\tfield:struct foo blob;\toffset:86;\tsize:6;\tsigned:0;",
  "",
  'print fmt: "synthetic"',
].join("\n");
const FIXED_END = 92;

interface SynthValues {
  pid: number;
  a_u8: number;
  a_s8: number;
  a_u16: number;
  a_s16: number;
  a_u32: number;
  a_s32: number;
  a_u64: bigint;
  a_s64: bigint;
  comm: string;
  arr: number[];
  name: string;
  rel: string;
  longs: bigint[];
  mac: number[];
  blob: number[];
}

/** Lays the values out as the kernel would (an independent encoder for the decoder under test). */
function encode(v: SynthValues, le: boolean, lead: number): { bytes: Uint8Array; length: number } {
  const enc = new TextEncoder();
  const name = enc.encode(`${v.name}\0`);
  const rel = enc.encode(`${v.rel}\0`);
  const longsAt = FIXED_END + name.length + rel.length;
  const length = longsAt + v.longs.length * 8;
  const bytes = new Uint8Array(lead + length + 3);
  const d = new DataView(bytes.buffer, lead);
  d.setUint16(0, 999, le);
  d.setInt32(4, v.pid, le);
  d.setUint8(8, v.a_u8);
  d.setInt8(9, v.a_s8);
  d.setUint16(10, v.a_u16, le);
  d.setInt16(12, v.a_s16, le);
  d.setUint32(16, v.a_u32, le);
  d.setInt32(20, v.a_s32, le);
  d.setBigUint64(24, v.a_u64, le);
  d.setBigInt64(32, v.a_s64, le);
  bytes.set(enc.encode(v.comm).subarray(0, 15), lead + 40);
  v.arr.forEach((x, i) => d.setUint32(56 + 4 * i, x, le));
  d.setUint32(68, (name.length << 16) | FIXED_END, le);
  bytes.set(name, lead + FIXED_END);
  // __rel_loc: the offset counts from the end of the field (72 + 4).
  d.setUint32(72, (rel.length << 16) | (FIXED_END + name.length - 76), le);
  bytes.set(rel, lead + FIXED_END + name.length);
  d.setUint32(76, ((v.longs.length * 8) << 16) | longsAt, le);
  v.longs.forEach((x, i) => d.setBigUint64(longsAt + 8 * i, x, le));
  bytes.set(v.mac, lead + 80);
  bytes.set(v.blob, lead + 86);
  return { bytes, length };
}

const text = (n: number) => fc.string({ unit: "grapheme", maxLength: n }).filter((s) => !s.includes("\0"));
const values: fc.Arbitrary<SynthValues> = fc.record({
  pid: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  a_u8: fc.integer({ min: 0, max: 255 }),
  a_s8: fc.integer({ min: -128, max: 127 }),
  a_u16: fc.integer({ min: 0, max: 65535 }),
  a_s16: fc.integer({ min: -32768, max: 32767 }),
  a_u32: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  a_s32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  a_u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  a_s64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  comm: fc.stringMatching(/^[ -~]{0,15}$/),
  arr: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 3, maxLength: 3 }),
  name: text(40),
  rel: text(10),
  longs: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 5 }),
  mac: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }),
  blob: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }),
});

describe("createFieldDecoder", () => {
  const fmt = parseEventFormat(SYNTH, "test");

  it("classifies each kind of field", () => {
    const by = new Map(fmt.fields.map((f) => [f.name, f]));
    expect(by.get("name")).toMatchObject({ dynamic: "data_loc", isString: true });
    expect(by.get("rel")).toMatchObject({ dynamic: "rel_loc", isString: true });
    expect(by.get("longs")).toMatchObject({ dynamic: "data_loc", isString: false, elementSize: 8 });
    expect(by.get("mac")).toMatchObject({ arrayLength: 6, elementSize: 1, isString: false });
    expect(by.get("blob")).toMatchObject({ arrayLength: null, size: 6 });
  });

  for (const le of [true, false]) {
    it(`decodes what the kernel laid out, ${le ? "little" : "big"}-endian, from a Uint8Array or a DataView at any offset`, () => {
      const decode = createFieldDecoder(fmt, le);
      fc.assert(
        fc.property(values, fc.nat(64), fc.boolean(), (v, lead, asView) => {
          const { bytes, length } = encode(v, le, lead);
          const rec = asView ? new DataView(bytes.buffer) : bytes;
          const { pid, fields } = decode(rec, lead, length);
          expect(pid).toBe(v.pid);
          expect(fields).toEqual({
            a_u8: v.a_u8,
            a_s8: v.a_s8,
            a_u16: v.a_u16,
            a_s16: v.a_s16,
            a_u32: v.a_u32,
            a_s32: v.a_s32,
            a_u64: v.a_u64,
            a_s64: v.a_s64,
            comm: new TextDecoder().decode(new TextEncoder().encode(v.comm).subarray(0, 15)),
            arr: v.arr,
            name: v.name,
            rel: v.rel,
            longs: v.longs,
            mac: v.mac,
            blob: Uint8Array.from(v.blob),
          });
        }),
        { numRuns: 300 },
      );
    });
  }

  it("a field past the end of a short record is null, never read out of bounds", () => {
    const decode = createFieldDecoder(fmt, true);
    const { bytes, length } = encode({ pid: 1, a_u8: 1, a_s8: 1, a_u16: 1, a_s16: 1, a_u32: 1, a_s32: 1, a_u64: 1n, a_s64: 1n, comm: "x", arr: [1, 2, 3], name: "n", rel: "r", longs: [5n], mac: [1, 2, 3, 4, 5, 6], blob: [0, 0, 0, 0, 0, 0] }, true, 0);
    fc.assert(
      fc.property(fc.nat(length), (cut) => {
        const { fields } = decode(bytes, 0, cut);
        for (const f of fmt.fields) {
          const end = f.dynamic ? f.offset + 4 : f.offset + f.size;
          if (end > cut) expect(fields[f.name], `${f.name} at cut ${cut}`).toBeNull();
        }
      }),
    );
    // A dynamic field whose data would pass the record's end is null too.
    expect(decode(bytes, 0, length - 1).fields.longs).toBeNull();
  });

  it("a trailing char[] runs to the record's end; a field named __proto__ stays a field", () => {
    const f = parseEventFormat(
      "name: t\nID: 1\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:int __proto__;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char buf[];\toffset:12;\tsize:0;\tsigned:0;\n",
      "t",
    );
    const b = new Uint8Array(20);
    new DataView(b.buffer).setInt32(8, -5, true);
    b.set(new TextEncoder().encode("hi\nthere"), 12);
    const { fields } = createFieldDecoder(f, true)(b, 0, 20);
    expect(Object.getOwnPropertyDescriptor(fields, "__proto__")?.value).toBe(-5);
    expect(fields.buf).toBe("hi\nthere");
  });
});
