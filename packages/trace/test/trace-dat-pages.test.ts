/**
 * Ring-buffer pages written from a description (test/support/synth-trace-dat.ts)
 * in both byte orders, read back and compared with an independent model of the
 * ring buffer's time arithmetic: time deltas, TIME_EXTEND, absolute TIME_STAMP
 * (which keeps the 5 high bits of the running time), padding and discarded
 * events, long (type_len 0) records, lost-event flags with and without a
 * stored count, timestamps near 2^64.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/model/event.js";
import { readAll } from "./support/report-compare.js";
import { expectedItems, type SynthPage, type SynthRecord, writeTraceDatV6 } from "./support/synth-trace-dat.js";

const dir = mkdtempSync(join(tmpdir(), "clocksource-pages-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function read(cpus: readonly (readonly SynthPage[])[], le: boolean): Promise<{ events: TraceEvent[]; warnings: readonly string[] }> {
  const p = join(dir, `synth-${n++}.dat`);
  writeFileSync(p, writeTraceDatV6(cpus, le));
  const r = await readAll(p, 5);
  return { events: r.events, warnings: r.warnings };
}

function asItems(events: readonly TraceEvent[], cpu: number) {
  return events
    .filter((e) => e.cpu === cpu)
    .map((e) =>
      e.name === "lost"
        ? { cpu, ts: e.ts, kind: "lost" as const, pid: -1, text: null, count: e.fields.count === null ? null : BigInt(e.fields.count as number | bigint) }
        : { cpu, ts: e.ts, kind: "event" as const, pid: e.tid, text: (e.fields.buf as string) ?? null, count: null },
    );
}

const record: fc.Arbitrary<SynthRecord> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("data" as const), delta: fc.nat((1 << 27) - 1), pid: fc.integer({ min: -1, max: 1 << 22 }), text: fc.stringMatching(/^[ -~]{0,120}$/), long: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("pad" as const), delta: fc.nat((1 << 27) - 1), length: fc.integer({ min: 1, max: 16 }).map((x) => x * 4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("extend" as const), delta: fc.bigInt({ min: 0n, max: (1n << 59n) - 1n }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("stamp" as const), abs: fc.bigInt({ min: 0n, max: (1n << 59n) - 1n }) }) },
);
const page: fc.Arbitrary<SynthPage> = fc.record(
  {
    ts: fc.oneof(fc.bigInt({ min: 0n, max: 1n << 53n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constant((1n << 64n) - 1n)),
    records: fc.array(record, { maxLength: 20 }),
    missed: fc.oneof(fc.constant(null), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n })),
  },
  { requiredKeys: ["ts", "records"] },
);

describe("ring-buffer pages", () => {
  for (const le of [true, false]) {
    it(`${le ? "little" : "big"}-endian: every record kind, per CPU, as the model says`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(page, { maxLength: 4 }), { minLength: 1, maxLength: 3 }), async (cpus) => {
          const { events, warnings } = await read(cpus, le);
          expect(warnings.filter((w) => !/events lost before/.test(w))).toEqual([]);
          const exp = expectedItems(cpus);
          for (let c = 0; c < cpus.length; c++) expect(asItems(events, c)).toEqual(exp.filter((x) => x.cpu === c));
          expect(events.length).toBe(exp.length);
        }),
        { numRuns: 60, timeout: 10_000 },
      );
    }, 120_000);
  }

  it("merges CPUs in time order, ties to the lower CPU", async () => {
    const mk = (ts: bigint, deltas: number[], tag: string): SynthPage => ({ ts, records: deltas.map((delta, i) => ({ kind: "data", delta, pid: 1, text: `${tag}${i}` })) });
    const { events } = await read([[mk(100n, [0, 5, 5], "a"), mk(200n, [0], "b")], [mk(100n, [0, 1, 9], "c")], [], [mk(105n, [0, 95], "d")]], true);
    expect(events.map((e) => `${e.ts}:${e.cpu}:${e.fields.buf}`)).toEqual(["100:0:a0", "100:1:c0", "101:1:c1", "105:0:a1", "105:3:d0", "110:0:a2", "110:1:c2", "200:0:b0", "200:3:d1"]);
    expect(events[0]?.comm).toBe("one");
  });

  it("a TIME_STAMP keeps the running time's 5 high bits; a delta past 2^64 wraps", async () => {
    const hi = (0x1fn << 59n) | 10n;
    const { events } = await read(
      [
        [
          {
            ts: hi,
            records: [
              { kind: "stamp", abs: 7n },
              { kind: "data", delta: 1, pid: 1, text: "x" },
            ],
          },
          { ts: (1n << 64n) - 2n, records: [{ kind: "data", delta: 5, pid: 1, text: "y" }] },
        ],
      ],
      false,
    );
    expect(events.map((e) => e.ts)).toEqual([(0x1fn << 59n) | 8n, 3n]);
  });
});
