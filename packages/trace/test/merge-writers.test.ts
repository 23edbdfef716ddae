/**
 * The merge's text-based writers on random events: JSON lines and Chrome JSON
 * parse back to exactly the values written (checked against `JSON.stringify`,
 * an independent encoder), in the documented member order, whatever the
 * strings hold and however many batches and flushes the output is cut into.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FieldValue, TraceEvent } from "../src/model/event.js";
import { MERGE_FLAG_NAMES, type MergedEvent } from "../src/merge/merger.js";
import { ChromeJsonWriter, microsecondsText } from "../src/writers/chrome-json.js";
import { JsonLinesWriter } from "../src/writers/jsonl.js";
import { TextWriter } from "../src/writers/text.js";
import { ChunkSink, TextLinesWriter, type MergeWriter } from "../src/writers/writer.js";

const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.constantFrom("", '"\\\b\f\n\r\t\u0000\u001f\u007f', "\ud83d\ude00", "\ud800", "x".repeat(300)),
);
const value: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, 0.5, -0, Number.NaN, Infinity),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
  fc.constantFrom(0xffff_ffff_8100_0000n, 0xffff_ffff_8100_0000n, 9007199254740992n),
  text,
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 3 }),
  fc.uint8Array({ maxLength: 4 }),
);
const event: fc.Arbitrary<MergedEvent> = fc.record({
  machine: fc.nat(2),
  input: fc.nat(2),
  ts: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 54n }), fc.constantFrom(0n, 999n, 1000n, 1001n, 9007199254740991n, 9007199254740992n)),
  boundNs: fc.option(fc.bigInt({ min: 0n, max: 1n << 40n })),
  flags: fc.nat(15),
  event: fc.record({
    ts: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    cpu: fc.integer({ min: -1, max: 255 }),
    pid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    tid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    comm: fc.option(text),
    name: text,
    fields: fc.dictionary(text, value, { maxKeys: 5 }),
    buffer: fc.constant(""),
  }) as fc.Arbitrary<TraceEvent>,
});
const machines = [{ index: 0, name: "host" }, { index: 1, name: 'vm "1"' }, { index: 2, name: "é" }];

/** Runs a writer over batches, flushing and taking the output after each (as `merge` does), and returns the text. */
function run(w: MergeWriter, sink: ChunkSink, batches: MergedEvent[][]): string {
  const parts: Buffer[] = [];
  const take = () => {
    for (const c of sink.take()) parts.push(Buffer.from(typeof c === "string" ? Buffer.from(c) : c));
  };
  w.begin({ machines, target: "host.tsc", toNanoseconds: null });
  for (const b of batches) {
    w.write(b);
    w.flush();
    take();
  }
  w.end();
  take();
  return Buffer.concat(parts).toString("utf8");
}

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x)));

describe("merge writers", () => {
  it("JSON lines: every line parses to the event's values, members in order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 8 }), { maxLength: 4 }), (batches) => {
        const sink = new ChunkSink();
        const lines = run(new JsonLinesWriter(sink), sink, batches).split("\n");
        expect(lines.pop()).toBe("");
        const all = batches.flat();
        expect(lines).toHaveLength(all.length);
        all.forEach((m, i) => {
          const got = JSON.parse(lines[i] as string) as Record<string, unknown>;
          expect(Object.keys(got)).toEqual(["machine", "ts", "raw_ts", "cpu", "pid", "tid", "comm", "event", "fields", "uncertainty_ns", "flags"]);
          const e = m.event;
          expect(got).toEqual(
            plain({
              machine: machines[m.machine]?.name,
              ts: m.ts,
              raw_ts: e.ts,
              cpu: e.cpu,
              pid: e.pid,
              tid: e.tid,
              comm: e.comm,
              event: e.name,
              fields: Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => (typeof x === "number" && !Number.isFinite(x) ? null : x)) : v])),
              uncertainty_ns: m.boundNs,
              flags: MERGE_FLAG_NAMES.filter(([bit]) => m.flags & bit).map(([, name]) => name),
            }),
          );
        });
      }),
      { numRuns: 300 },
    );
  });

  it("JSON lines: a batch larger than the writer's buffer grows it and loses nothing", () => {
    const big = "é".repeat(700_000);
    const m: MergedEvent = { machine: 0, input: 0, ts: 5n, boundNs: 0n, flags: 0, event: { ts: 5n, cpu: 0, pid: 1, tid: 1, comm: "c", name: "n", fields: { s: big }, buffer: "" } };
    const sink = new ChunkSink();
    const lines = run(new JsonLinesWriter(sink), sink, [[m, m, m]]).trimEnd().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { fields: { s: string } }).fields.s === big)).toEqual([true, true, true]);
  });

  it("text: each line as the format is defined (machine: comm-tid [cpu] time: event: key=value … [±N ns] flags), ticks or seconds (property)", () => {
    // The format, written the plain way: the writer's bytes must be exactly this.
    const width = Math.max(...machines.map((x) => x.name.length));
    const flagText: Record<string, string> = { order_unknown: " [order?]", outside_epochs: " [outside epochs]", out_of_order: " [out of order]", unmapped: " [unmapped: raw time]" };
    const textValue = (v: FieldValue) => (v === null ? "(null)" : typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : `[${(v as readonly (number | bigint)[]).join(",")}]`);
    const expected = (m: MergedEvent, ns: boolean) => {
      const e = m.event;
      const ts = ns ? `${m.ts / 1_000_000_000n}.${String(m.ts % 1_000_000_000n).padStart(9, "0")}` : m.ts.toString();
      const fields = Object.entries(e.fields).map(([k, v]) => ` ${k}=${textValue(v)}`).join("");
      const tail = (m.boundNs === null ? " [±? ns]" : m.boundNs === 0n ? "" : ` [±${m.boundNs} ns]`) + MERGE_FLAG_NAMES.filter(([bit]) => m.flags & bit).map(([, f]) => flagText[f]).join("");
      const cpu = e.cpu >= 0 ? String(e.cpu).padStart(3, "0") : "???";
      return `${(machines[m.machine]?.name ?? "").padStart(width)}: ${`${e.comm ?? "<...>"}-${e.tid}`.padStart(20)} [${cpu}] ${ts}: ${e.name}:${fields}${tail}\n`;
    };
    const textEvent = event.map((m) => ({ ...m, event: { ...m.event, cpu: m.event.cpu === 255 ? 12345 : m.event.cpu, tid: m.event.tid === 0 ? -0 : m.event.tid } }));
    fc.assert(
      fc.property(fc.array(fc.array(textEvent, { maxLength: 6 }), { maxLength: 4 }), fc.boolean(), (batches, ns) => {
        const sink = new ChunkSink();
        // Through UTF-8 both ways: a lone surrogate half is written as U+FFFD, as Buffer.from writes it.
        expect(run(new TextWriter(sink, ns), sink, batches)).toBe(Buffer.from(batches.flat().map((m) => expected(m, ns)).join("")).toString("utf8"));
      }),
      { numRuns: 400 },
    );
  });

  it("TextLinesWriter (for formats of one string per event): every line, in order, across flushes", () => {
    class Names extends TextLinesWriter {
      protected line(m: MergedEvent): string {
        return `${m.event.name}\t${m.ts}\n`;
      }
    }
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 6 }), { maxLength: 4 }), (batches) => {
        const sink = new ChunkSink();
        expect(run(new Names(sink), sink, batches)).toBe(Buffer.from(batches.flat().map((m) => `${m.event.name}\t${m.ts}\n`).join("")).toString("utf8"));
      }),
      { numRuns: 100 },
    );
  });

  it("Chrome JSON and text: whole batches in order, the Chrome document valid JSON", () => {
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 6 }), { maxLength: 4 }), (batches) => {
        const sink = new ChunkSink();
        const doc = JSON.parse(run(new ChromeJsonWriter(sink), sink, batches)) as { traceEvents: { ph: string; name: string; args: Record<string, unknown> }[] };
        const instants = doc.traceEvents.filter((x) => x.ph === "i") as unknown as Record<string, unknown>[];
        const all = batches.flat();
        expect(instants).toHaveLength(all.length);
        all.forEach((m, i) => {
          const e = m.event;
          const tracePid = e.pid >= 0 ? e.pid : e.tid;
          expect(instants[i]).toEqual(
            plain({
              ph: "i",
              s: "t",
              name: e.name,
              cat: machines[m.machine]?.name,
              ts: microsecondsText(m.ts),
              pid: m.machine * 10_000_000 + (tracePid >= 0 ? tracePid : 0),
              tid: e.tid >= 0 ? e.tid : 0,
              args: {
                cpu: e.cpu,
                pid: e.pid,
                raw_ts: e.ts,
                uncertainty_ns: m.boundNs ?? "unknown",
                ...Object.fromEntries(MERGE_FLAG_NAMES.filter(([bit]) => m.flags & bit).map(([, name]) => [name, true])),
                ...Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => (typeof x === "number" && !Number.isFinite(x) ? null : x)) : v])),
              },
            }),
          );
        });
        const tsink = new ChunkSink();
        const lines = run(new TextWriter(tsink, false), tsink, batches);
        expect(lines.split("\n").length - 1).toBeGreaterThanOrEqual(batches.flat().length);
      }),
      { numRuns: 100 },
    );
  });
});
