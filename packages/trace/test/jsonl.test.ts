import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isClocksourceError } from "@clocksource/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { FieldValue, TraceEvent } from "../src/model/event.js";
import { EventLineBytes } from "../src/readers/jsonl/event-line-bytes.js";
import { EventLineEncoder } from "../src/readers/jsonl/event-line-encoder.js";
import { isJsonObject, JsonSyntaxError, parseExactJson } from "../src/readers/jsonl/exact-json.js";
import { jsonLinesFormat } from "../src/readers/jsonl/index.js";
import { openTrace } from "../src/open.js";
import { DATA_DIR, readTrace } from "./support/text-fixtures.js";

/** What JSON.stringify (an independent encoder) makes of a value, bigints as decimal strings and bytes as hex, parsed back. */
const stringified = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x)));

const tmp = mkdtempSync(join(tmpdir(), "jsonl-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = join(tmp, `j${++n}.jsonl`);
  writeFileSync(p, text);
  return p;
}
const read = (text: string, options: Parameters<typeof readTrace>[1] = {}) => readTrace(file(text), { format: "jsonl", ...options });

describe("exact JSON", () => {
  it("keeps integers beyond 2^53 exact and everything else as JSON.parse does", () => {
    const v = parseExactJson('{"a":18446744073709551615,"b":-9007199254740993,"c":9007199254740991,"d":1.5,"e":[1,"x",null,true],"f":{"g":"\\u00e9\\n"}}');
    expect(isJsonObject(v)).toBe(true);
    if (!isJsonObject(v)) return;
    expect(v.entries.get("a")).toBe(18446744073709551615n);
    expect(v.entries.get("b")).toBe(-9007199254740993n);
    expect(v.entries.get("c")).toBe(9007199254740991);
    expect(v.entries.get("d")).toBe(1.5);
    expect(v.entries.get("e")).toEqual([1, "x", null, true]);
    expect(isJsonObject(v.entries.get("f")) && (v.entries.get("f") as { entries: Map<string, unknown> }).entries.get("g")).toBe("é\n");
  });

  it("agrees with JSON.parse on any JSON text, and refuses what JSON.parse refuses (property)", () => {
    const plain = (x: unknown): unknown => {
      if (typeof x === "bigint") return Number(x);
      if (Array.isArray(x)) return x.map(plain);
      if (isJsonObject(x as never)) return Object.fromEntries([...(x as { entries: Map<string, unknown> }).entries].map(([k, y]) => [k, plain(y)]));
      return x;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        expect(plain(parseExactJson(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        let ok = true;
        try {
          JSON.parse(s);
        } catch {
          ok = false;
        }
        try {
          parseExactJson(s);
          expect(ok).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(JsonSyntaxError);
          expect(ok).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
    expect(() => parseExactJson("[".repeat(100) + "]".repeat(100))).toThrow(/nesting deeper than 64/);
  });
});

describe("JSON lines traces", () => {
  it("reads exact timestamps (decimal strings or integers of any size up to 2^64-1) and the optional members", async () => {
    const r = await read(
      [
        '{"ts":"18446744073709551615","clock":"x86-tsc","cpu":1,"pid":10,"tid":11,"comm":"a b","event":"kvm:kvm_exit","fields":{"big":18446744073709551615,"arr":[1,2],"mix":[1,18446744073709551615],"obj":{"x":1},"flag":true}}',
        '{"ts":9007199254740993,"cpu":0,"name":"marker","msg":"hello","level":3}',
        "",
        '{"ts":0}',
      ].join("\n"),
    );
    expect(r.events.map((e) => [e.ts, e.cpu, e.pid, e.tid, e.comm, e.name])).toEqual([
      [0n, -1, -1, -1, null, "unknown"],
      [9007199254740993n, 0, -1, -1, null, "marker"],
      [18446744073709551615n, 1, 10, 11, "a b", "kvm:kvm_exit"],
    ]);
    expect(r.events[1]?.fields).toEqual({ msg: "hello", level: 3 });
    expect(r.events[2]?.fields).toEqual({ big: 18446744073709551615n, arr: [1, 2], mix: [1n, 18446744073709551615n], obj: '{"x":1}', flag: "true" });
    expect(r.info.clock).toEqual({ name: "x86-tsc", unit: "ticks", source: "clock field" });
    expect(r.warnings).toEqual([]);
  });

  it("warns, naming the line, and skips lines it cannot read", async () => {
    const r = await read(
      [
        '{"ts":"1"}',
        "not json",
        "[1,2]",
        '{"x":1}',
        '{"ts":"18446744073709551616"}',
        '{"ts":-1}',
        '{"ts":1.5}',
        '{"ts":"0x10"}',
        '{"ts":"2","ts":"3"}',
        '{"ts":"4","cpu":"zero"}',
      ].join("\n"),
      { clock: "mono" },
    );
    expect(r.events.map((e) => [e.ts, e.cpu])).toEqual([[1n, -1], [4n, -1]]);
    const w = r.warnings.join("\n");
    for (const [line, what] of [[2, "not JSON"], [3, "not a JSON object"], [4, 'no field "ts"'], [5, 'field "ts" is not a u64'], [6, 'field "ts" is not a u64'], [7, 'field "ts" is not a u64'], [8, 'field "ts" is not a u64'], [9, 'field "ts" appears more than once'], [10, 'cpu "zero" is not an integer']] as const) {
      expect(w).toContain(`line ${line}: ${what}`);
    }
    expect(r.info.clock).toEqual({ name: "mono", unit: "ns", source: "--clock" });
  });

  it("keeps a member named __proto__ as a field, in fields and at the top level", async () => {
    const r = await read('{"ts":"1","__proto__":{"x":1},"fields":{"__proto__":5}}\n{"ts":"2","__proto__":7}\n');
    expect(Object.getPrototypeOf(r.events[0]?.fields)).toBe(Object.prototype);
    expect(Object.keys(r.events[0]?.fields ?? {})).toEqual(["__proto__"]);
    expect(Object.getOwnPropertyDescriptor(r.events[0]?.fields, "__proto__")?.value).toBe(5);
    expect(Object.getOwnPropertyDescriptor(r.events[1]?.fields, "__proto__")?.value).toBe(7);
  });

  it("needs the timestamp member on the first line, and finds it by --ts-field", async () => {
    await expect(read('{"time":"5"}\n')).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "INVALID_TRACE") && /line 1: no field "ts" \(name the timestamp field with --ts-field\)/.test((e as Error).message));
    const r = await read('{"time":"5","ts":"x"}\n', { tsField: "time" });
    expect(r.events.map((e) => [e.ts, e.fields])).toEqual([[5n, { ts: "x" }]]);
  });

  it("keeps one clock per buffer and refuses lines that change it", async () => {
    const r = await read(['{"ts":"1","clock":"x86-tsc"}', '{"ts":"2","clock":"mono","buffer":"guest"}', '{"ts":"3","clock":"local"}', '{"ts":"4","machine":"a"}', '{"ts":"5","machine":"b"}'].join("\n"));
    expect(r.events.map((e) => [e.ts, e.buffer])).toEqual([[1n, ""], [2n, "guest"], [4n, ""], [5n, ""]]);
    expect(r.info.buffers.map((b) => [b.name, b.clock.name, b.clock.unit])).toEqual([["", "x86-tsc", "ticks"], ["guest", "mono", "ns"]]);
    expect(r.warnings).toEqual([expect.stringContaining('line 3: clock "local" differs from "x86-tsc"'), expect.stringContaining('line 5: machine "b" differs from "a"')]);
  });

  it("sorts lines out of order within the window; beyond it, fails after delivering what came first", async () => {
    const lines = [5, 3, 4, 1, 2, 9, 8].map((t) => `{"ts":"${t}"}`).join("\n");
    expect((await read(lines)).events.map((e) => e.ts)).toEqual([1n, 2n, 3n, 4n, 5n, 8n, 9n]);
    const reader = await openTrace(file([10, 11, 12, 13, 14, 1].map((t) => `{"ts":"${t}"}`).join("\n")), { format: "jsonl", reorderWindow: 2, batchSize: 1 });
    const seen: bigint[] = [];
    const err = await (async () => {
      for await (const b of reader.batches()) seen.push(...b.map((e) => e.ts));
    })().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/line 6: timestamp 1 is earlier than 1[0-3], already delivered: out of order by more than the reorder window \(2 events\)/);
    expect(seen).toEqual([10n, 11n, 12n, 13n, 14n]);
  });

  it("detects JSON lines by content", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(jsonLinesFormat.detect(enc('\n{"ts":"1"}\n'))).toBe(true);
    expect(jsonLinesFormat.detect(enc("# tracer: nop\n"))).toBe(false);
    expect(jsonLinesFormat.detect(enc("[1]\n"))).toBe(false);
  });
});

const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.integer(),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: -(1n << 63n), max: -1n }),
  fc.constantFrom(9007199254740991n, 9007199254740992n, -9007199254740991n, -9007199254740992n, 99999999n, 100000000n, 10000000000000000n),
  fc.constantFrom(9007199254740991, -9007199254740991, 99_999_999, 100_000_000, 9_999, 10_000, -1, -0, 1.5, -2.25e-7, 1e21),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 4 }),
  fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 3 }),
  fc.uint8Array({ maxLength: 6 }),
);
const event: fc.Arbitrary<TraceEvent> = fc.record({
  ts: fc.oneof(fc.constantFrom(0n, 1n, (1n << 53n) + 1n, (1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  cpu: fc.integer({ min: -1, max: 4095 }),
  pid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  tid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  comm: fc.option(fc.string({ maxLength: 16 })),
  name: fc.string({ minLength: 1, maxLength: 20 }),
  fields: fc.dictionary(fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constant("__proto__")), fieldValue, { maxKeys: 5 }),
  buffer: fc.constantFrom("", "guest", 'a"b'),
});

describe("the dump schema reads back", () => {
  it("every line is standard JSON, and reading it back gives the same event (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 20 }), async (events) => {
        const enc = new EventLineEncoder("host", (b) => (b === "" ? "x86-tsc" : "mono"));
        const sorted = [...events].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.cpu - b.cpu));
        const lines = sorted.map((e) => enc.encode(e));
        // Each line holds the event's values, checked against JSON.stringify (an independent encoder).
        sorted.forEach((e, i) => {
          const got = JSON.parse(lines[i] as string);
          expect(got).toEqual(stringified({ machine: "host", ts: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, comm: e.comm, event: e.name, fields: e.fields, clock: e.buffer === "" ? "x86-tsc" : "mono", ...(e.buffer === "" ? {} : { buffer: e.buffer }) }));
        });
        const back = await read(lines.join(""));
        expect(back.warnings).toEqual([]);
        const again = new EventLineEncoder("host", (b) => (b === "" ? "x86-tsc" : "mono"));
        expect(back.events.map((e) => again.encode(e))).toEqual(lines);
        expect(back.events.map((e) => [e.ts, e.cpu, e.pid, e.tid, e.comm, e.name, e.buffer])).toEqual(sorted.map((e) => [e.ts, e.cpu, e.pid, e.tid, e.comm, e.name, e.buffer]));
      }),
      { numRuns: 100 },
    );
  });

  for (const f of ["sched-x86tsc-v7-zstd.dat", "perf-sched-mono.data", "text-tracefs-mono-tgid.trace.txt", "perf-pipe.script.txt"]) {
    it(`a dump of ${f} reads back event for event`, async () => {
      const orig = await readTrace(join(DATA_DIR, f), { clock: "mono" });
      const clockOf = (b: string) => (orig.info.buffers.find((x) => x.name === b)?.clock ?? orig.info.clock).name;
      const enc = new EventLineEncoder("m", clockOf);
      const lines = orig.events.map((e) => enc.encode(e));
      const back = await read(lines.join(""));
      expect(back.events.length).toBe(orig.events.length);
      const enc2 = new EventLineEncoder("m", clockOf);
      expect(back.events.map((e) => enc2.encode(e))).toEqual(lines);
      expect(back.info.clock.name).toBe(orig.info.buffers.find((b) => b.name === (orig.events[0]?.buffer ?? ""))?.clock.name ?? orig.info.clock.name);
    });
  }
});

describe("EventLineBytes (the dump's byte encoder)", () => {
  // Every kind of text the hand-written escaping and UTF-8 must get right: controls, quotes,
  // backslashes, DEL, 2- and 3-byte characters, surrogate pairs and lone halves; short, long
  // (past the hand-written path) and longer than a chunk.
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.string({ unit: "grapheme", maxLength: 20 }),
    fc.constantFrom("", "a\u007f\u0080\u07ff\u0800\uffff", '"\\\b\f\n\r\t\u0000\u001f', "\ud83d\ude00", "\ud800", "x\udfff", "é".repeat(300), "\n".repeat(257)),
    fc.string({ unit: "binary", minLength: 250, maxLength: 700 }),
    fc.string({ unit: "grapheme-ascii", minLength: 50, maxLength: 260 }),
    fc.string({ unit: "grapheme", minLength: 20, maxLength: 260 }),
  );
  const value: fc.Arbitrary<FieldValue> = fc.oneof(
    fieldValue,
    text,
    fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, -(2 ** 53), 1e21, 5e-324, Number.NaN, Infinity, -Infinity, 0.1, 99_999_999, 100_000_000, 100_000_001, 10 ** 15),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
    fc.constantFrom(-9007199254740991n, 9007199254740991n, -9007199254740992n, 9007199254740992n, 0n, -1n),
  );
  const anyEvent: fc.Arbitrary<TraceEvent> = fc.record({
    ts: fc.oneof(fc.constantFrom(0n, 9007199254740991n, 9007199254740992n, (1n << 64n) - 1n, 100_000_000n, 99_999_999n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    cpu: fc.oneof(fc.integer({ min: -1, max: 4095 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, -0)),
    pid: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    tid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    comm: fc.option(text),
    name: text,
    fields: fc.dictionary(fc.oneof(text, fc.constant("__proto__")), value, { maxKeys: 6 }),
    buffer: fc.constantFrom("", "guest", 'a"b', "é"),
  });

  it("writes each event's values as standard JSON, members in order, the same bytes across any chunk size, reused or not (property)", () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 12 }), fc.integer({ min: 64, max: 400 }), fc.boolean(), fc.string({ unit: "binary", maxLength: 30 }), (events, chunk, reuse, machine) => {
        const clockOf = (b: string) => (b === "" ? "x86-tsc" : b === "é" ? null : "mono");
        const chunks: Buffer[] = [];
        // The sink copies, so handing the chunk back for reuse is safe here; when it is not handed back, the encoder must take a fresh one.
        const out = new EventLineBytes(machine, clockOf, (c) => (chunks.push(Buffer.from(c)), reuse), chunk);
        for (const e of events) out.write(e);
        out.flush();
        expect(out.pending).toBe(0);
        const text = Buffer.concat(chunks).toString("utf8");
        // Cut into chunks of any size, the bytes are those of one line at a time.
        const enc = new EventLineEncoder(machine, clockOf);
        expect(text).toBe(events.map((e) => enc.encode(e)).join(""));
        // And each line holds the event's values, checked against JSON.stringify (an independent encoder).
        const lines = text.split("\n");
        expect(lines.pop()).toBe("");
        events.forEach((e, i) => {
          const got = JSON.parse(lines[i] as string) as Record<string, unknown>;
          expect(Object.keys(got)).toEqual(["machine", "ts", "cpu", "pid", "tid", "comm", "event", "fields", "clock", ...(e.buffer === "" ? [] : ["buffer"])]);
          const fields = Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => (typeof x === "number" && !Number.isFinite(x) ? null : x)) : v]));
          expect(got).toEqual(stringified({ machine, ts: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, comm: e.comm, event: e.name, fields, clock: clockOf(e.buffer), ...(e.buffer === "" ? {} : { buffer: e.buffer }) }));
        });
      }),
      { numRuns: 400 },
    );
  });

  it("never hands the sink a chunk it is still writing into when the sink keeps it", () => {
    const kept: Uint8Array[] = [];
    const out = new EventLineBytes("m", () => "mono", (c) => (kept.push(c), false), 64);
    const e: TraceEvent = { ts: 1n, cpu: 0, pid: 1, tid: 1, comm: "c", name: "n", fields: { s: "x".repeat(100) }, buffer: "" };
    for (let i = 0; i < 20; i++) out.write(e);
    out.flush();
    const enc = new EventLineEncoder("m", () => "mono");
    expect(Buffer.concat(kept).toString()).toBe(enc.encode(e).repeat(20));
  });

  it("refuses a chunk size too small to hold a number", () => {
    expect(() => new EventLineBytes("m", () => null, () => true, 63)).toThrow(/at least 64 bytes/);
  });
});

