/**
 * Damaged perf.data files: truncated anywhere, flipped bytes, records whose
 * size lies (0 included), overlapping sections, unknown feature bits. Each
 * must end in events plus warnings, or a typed INVALID_TRACE error naming the
 * offset (after the events before the damage) — never a crash or a hang.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClocksourceError } from "@clocksource/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/model/event.js";
import { perfDataFormat } from "../src/readers/perf-data/index.js";
import { readAll } from "./support/perf-compare.js";
import { richFile } from "./support/perf-data-builder.js";

const DATA = join(__dirname, "data");
const FILES = ["perf-sched-mono", "perf-cpu-clock", "perf-pipe", "perf-switch-all", "perf-zstd"].map((n) => join(DATA, `${n}.data`));
// Made when the tests run (hooks of a file whose tests are all filtered out do not run).
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clocksource-perf-damage-"));
});
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});
let serial = 0;

/** Per-case limit: a damaged file must be done with well within this. */
const CASE_MS = 10_000;

interface Outcome {
  readonly events: TraceEvent[];
  readonly warnings: readonly string[];
  readonly error: ClocksourceError | null;
}

/** Opens and reads a damaged copy; any error other than a typed one naming the offset fails the test. */
async function readDamaged(bytes: Uint8Array): Promise<Outcome> {
  const path = join(dir, `d${serial++}.data`);
  writeFileSync(path, bytes);
  const events: TraceEvent[] = [];
  let warnings: readonly string[] = [];
  const work = (async (): Promise<ClocksourceError | null> => {
    let r;
    try {
      r = await perfDataFormat.open(path, {});
    } catch (e) {
      return typed(e);
    }
    try {
      for await (const b of r.batches()) events.push(...b);
      return null;
    } catch (e) {
      return typed(e);
    } finally {
      warnings = r.warnings;
      await r.close();
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`reading a damaged file took over ${CASE_MS} ms`)), CASE_MS);
  });
  try {
    const error = await Promise.race([work, timeout]);
    return { events, warnings, error };
  } finally {
    clearTimeout(timer);
  }
}

function typed(e: unknown): ClocksourceError {
  if (!(e instanceof ClocksourceError)) throw new Error(`untyped error: ${e instanceof Error ? e.stack : String(e)}`);
  expect(e.code).toBe("INVALID_TRACE");
  expect(e.message).toMatch(/: offset 0x[0-9a-f]+: /);
  expect(e.message).not.toContain("\n");
  return e;
}

/** Identity of an event across damage: a cut that loses the feature sections also loses the tracepoint names. */
function key(e: TraceEvent): string {
  return `${e.ts}|${e.cpu}|${e.tid}`;
}

/** File offsets of the data section's records (file mode), from the header. */
function recordOffsets(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = Number(v.getBigUint64(40, true));
  const end = start + Number(v.getBigUint64(48, true));
  const out: number[] = [];
  for (let p = start; p + 8 <= end; p += v.getUint16(p + 6, true)) out.push(p);
  return out;
}

describe("damaged perf.data", () => {
  it("truncated anywhere: a typed error or warnings, and only events of the whole file, those before the cut", async () => {
    for (const file of FILES) {
      const whole = readFileSync(file);
      const full = new Set((await readAll(file)).events.map(key));
      const cuts = new Set<number>();
      for (let c = 0; c < 300; c++) cuts.add(c);
      for (let k = 0; k < 60; k++) cuts.add(Math.floor((whole.length * k) / 60));
      for (const c of cuts) {
        const o = await readDamaged(whole.subarray(0, c));
        for (const e of o.events) expect(full.has(key(e)), `${file} cut at ${c}: event ${key(e)} is not in the whole file`).toBe(true);
        // A pipe-mode stream has no declared length: a cut at a record boundary is a shorter, valid stream.
        if (o.error === null && !file.includes("pipe")) expect(o.warnings.length, `${file} cut at ${c} read without error or warning`).toBeGreaterThan(0);
      }
    }
  });

  it("a cut inside the data section delivers the events before it, then the error naming where the data ends", async () => {
    const whole = readFileSync(join(DATA, "perf-switch-all.data"));
    const offs = recordOffsets(whole);
    const cut = (offs[Math.floor(offs.length * 0.8)] as number) + 5;
    const o = await readDamaged(whole.subarray(0, cut));
    expect(o.error?.message).toMatch(/offset 0x[0-9a-f]+: the file ends inside a record header/);
    expect(o.events.length).toBeGreaterThan(20);
    expect(o.warnings.some((w) => w.includes("truncated"))).toBe(true);
  });

  it("a record of size 0 ends the reading with the offset, after the events before it", async () => {
    const whole = new Uint8Array(readFileSync(join(DATA, "perf-switch-all.data")));
    const offs = recordOffsets(whole);
    const at = offs[Math.floor(offs.length / 2)] as number;
    new DataView(whole.buffer).setUint16(at + 6, 0, true);
    const o = await readDamaged(whole);
    expect(o.error?.message).toContain(`offset 0x${at.toString(16)}: `);
    expect(o.error?.message).toMatch(/claims size 0/);
    expect(o.events.length).toBeGreaterThan(0);
  });

  it("records whose size lies (too small for their content, swallowing the next one, past the end) never hang or crash", async () => {
    const original = new Uint8Array(readFileSync(join(DATA, "perf-sched-mono.data")));
    const offs = recordOffsets(original);
    const lies = [8, 16, 24, 40, 200, 65535];
    let warned = 0;
    for (const at of offs.filter((_, i) => i % 7 === 0)) {
      for (const size of lies) {
        const b = original.slice();
        new DataView(b.buffer).setUint16(at + 6, size, true);
        const o = await readDamaged(b);
        if (o.warnings.some((w) => /shorter than|past the record|skipped/.test(w))) warned++;
      }
    }
    expect(warned).toBeGreaterThan(0);
  });

  it("an attrs section that overlaps the header or the data is refused with its offset", async () => {
    for (const target of ["header", "data"]) {
      const b = new Uint8Array(readFileSync(join(DATA, "perf-sched-mono.data")));
      const v = new DataView(b.buffer);
      const dataAt = Number(v.getBigUint64(40, true));
      v.setBigUint64(24, BigInt(target === "header" ? 64 : dataAt), true);
      const o = await readDamaged(b);
      expect(o.error?.message).toMatch(/offset 0x18: attrs section .* overlaps the header or the data section/);
    }
  });

  it("unknown feature bits: skipped with a warning, the events are intact", async () => {
    const file = join(DATA, "perf-cpu-clock.data");
    const b = new Uint8Array(readFileSync(file));
    // Bit 255 sorts after every known bit: its table entry is the 16 bytes after the known ones.
    const v = new DataView(b.buffer);
    v.setBigUint64(72 + 24, v.getBigUint64(72 + 24, true) | (1n << 63n), true);
    const o = await readDamaged(b);
    expect(o.error).toBeNull();
    expect(o.warnings.some((w) => /feature 255|feature bit 255/.test(w))).toBe(true);
    expect(o.events.map(key)).toEqual((await readAll(file)).events.map(key));
  });

  it("a version 1 (PERFFILE) header, a bad header size and a non-perf file are typed errors", async () => {
    const b = new Uint8Array(readFileSync(join(DATA, "perf-cpu-clock.data")));
    const v1 = b.slice();
    v1.set(new TextEncoder().encode("PERFFILE"), 0);
    expect((await readDamaged(v1)).error?.message).toMatch(/offset 0x0: perf.data version 1/);
    const size = b.slice();
    new DataView(size.buffer).setBigUint64(8, 99n, true);
    expect((await readDamaged(size)).error?.message).toMatch(/offset 0x8: header size 99/);
    expect((await readDamaged(new TextEncoder().encode("hello world, not a trace"))).error?.message).toMatch(/no PERFILE2 magic/);
  });

  it("refuses what is not a regular file without opening it (a FIFO is never waited on)", async () => {
    const { execFileSync } = await import("node:child_process");
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    await expect(perfDataFormat.open(fifo, {})).rejects.toMatchObject({ code: "IO_ERROR", message: expect.stringMatching(/is a FIFO, not a regular file/) });
    await expect(perfDataFormat.open(dir, {})).rejects.toMatchObject({ code: "IO_ERROR" });
    await expect(perfDataFormat.open(join(dir, "missing"), {})).rejects.toMatchObject({ code: "IO_ERROR" });
  });

  it("the written file with every record kind reads cleanly (so the fuzzer starts from a valid file)", async () => {
    for (const bytes of [richFile(true).build(), richFile(false).build(), richFile(false).buildPipe()]) {
      const o = await readDamaged(bytes);
      expect(o.error).toBeNull();
      expect(o.events.map((e) => e.name)).toEqual(["perf:comm", "cycles", "perf:fork", "cpu-clock", "cycles", "lost", "perf:exit", "lost"]);
    }
  });

  it("fuzz: flipped bytes anywhere give events and warnings or a typed error, within the time limit", async () => {
    // The recordings, and written files with the record kinds this machine does not record, in both byte orders and modes.
    const originals = [...FILES.map((f) => new Uint8Array(readFileSync(f))), richFile(true).build(), richFile(false).build(), richFile(false).buildPipe()];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(originals.length - 1),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (which, flips, nearHeader) => {
          const b = (originals[which] as Uint8Array).slice();
          // Half the cases aim at the first KiB, where the header, attrs and ids live.
          const span = nearHeader ? Math.min(1024, b.length) : b.length;
          for (const [where, x] of flips) {
            const i = Math.floor(where * span);
            b[i] = (b[i] as number) ^ x;
          }
          await readDamaged(b);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("fuzz: flipped bytes inside zstd-compressed records (perf record -z) give warnings or a typed error, within the time limit", async () => {
    const original = new Uint8Array(readFileSync(join(DATA, "perf-zstd.data")));
    const v = new DataView(original.buffer);
    const start = Number(v.getBigUint64(40, true));
    const size = Number(v.getBigUint64(48, true));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), async (flips) => {
        const b = original.slice();
        for (const [where, x] of flips) {
          const i = start + Math.floor(where * size);
          b[i] = (b[i] as number) ^ x;
        }
        await readDamaged(b);
      }),
      { numRuns: 100 },
    );
  });
});
