/**
 * Damaged trace.dat files: truncated anywhere, flipped bytes, a page whose
 * commit size lies, an unknown option, a format that does not parse, a v8
 * header, a chunk that claims to be huge, options that link in a circle, a
 * FIFO. Each gives a typed error or a counted warning naming the offset;
 * never a crash, a hang or unbounded memory.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isClocksourceError } from "@clocksource/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { BufferCursor } from "../src/ftrace/byte-cursor.js";
import { readTracingHeader } from "../src/ftrace/tracing-data.js";
import { traceDatFormat } from "../src/readers/trace-dat/index.js";
import { FileSource } from "../src/readers/trace-dat/file-source.js";
import { readTraceDatLayout } from "../src/readers/trace-dat/metadata.js";
import { readAll } from "./support/report-compare.js";
import { fixtureFile } from "./support/trace-dat-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "clocksource-damage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function write(bytes: Uint8Array): string {
  const p = join(dir, `case-${n++}.dat`);
  writeFileSync(p, bytes);
  return p;
}

/** Reads a file whole; returns the outcome instead of throwing a ClocksourceError. */
async function outcome(path: string): Promise<{ events: number; warnings: readonly string[]; error: string | null }> {
  let events = 0;
  let reader: Awaited<ReturnType<typeof traceDatFormat.open>> | null = null;
  try {
    reader = await traceDatFormat.open(path, { batchSize: 64 });
    for await (const b of reader.batches()) events += b.length;
    return { events, warnings: reader.warnings, error: null };
  } catch (e) {
    if (!isClocksourceError(e)) throw e;
    expect(["INVALID_TRACE", "IO_ERROR"]).toContain(e.code);
    return { events, warnings: reader?.warnings ?? [], error: e.message };
  } finally {
    await reader?.close();
  }
}

const OFFSET = /offset 0x[0-9a-f]+/;
const sources = ["sched-x86tsc-v6", "sched-x86tsc-v7-zstd", "sched-x86tsc-v7-none", "lost-local-v7-zstd", "two-buffer-mono-v6"].map((name) => {
  const [base, ...kind] = name.split("-v");
  return { name, bytes: readFileSync(fixtureFile(base as string, `v${kind.join("-v")}` as "v6")) };
});

describe("fuzzed trace.dat files", () => {
  for (const s of sources) {
    it(`${s.name}: truncated anywhere and with flipped bytes → events, warnings or a typed error naming the offset`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.nat(s.bytes.length),
          fc.array(fc.tuple(fc.nat(s.bytes.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
          async (cut, flips) => {
            const b = Uint8Array.from(s.bytes.subarray(0, cut));
            for (const [i, v] of flips) if (i < b.length) b[i] = v;
            const r = await outcome(write(b));
            if (r.error !== null) expect(r.error).toMatch(OFFSET);
            for (const w of r.warnings) expect(w).toMatch(/offset 0x[0-9a-f]+|events lost|further warnings|is not read|has no format|shorter than their/);
          },
        ),
        { numRuns: 120, timeout: 5000 },
      );
    }, 120_000);
  }

  it("a file cut inside the CPU data gives the events before the cut and says the data are truncated", async () => {
    const whole = await readAll(fixtureFile("sched-x86tsc", "v6"));
    const layout = readTraceDatLayout(new FileSource(fixtureFile("sched-x86tsc", "v6")));
    const cpu = layout.buffers.flatMap((b) => b.cpus).find((c) => c.size > 4096) ?? layout.buffers.flatMap((b) => b.cpus).find((c) => c.size > 0);
    const bytes = readFileSync(fixtureFile("sched-x86tsc", "v6"));
    const cutAt = (cpu?.offset ?? 0) + 4096 + 100;
    const r = await outcome(write(bytes.subarray(0, Math.min(cutAt, bytes.length - 1))));
    expect(r.error).toBeNull();
    expect(r.events).toBeGreaterThan(0);
    expect(r.events).toBeLessThan(whole.events.length);
    expect(r.warnings.some((w) => /pass the end of the file \(truncated\)/.test(w) && OFFSET.test(w))).toBe(true);
  });
});

describe("specific damage", () => {
  it("a page whose commit size lies is skipped with a warning naming its offset; the other pages are read", async () => {
    const path = fixtureFile("sched-x86tsc", "v7-none");
    const layout = readTraceDatLayout(new FileSource(path));
    const cpu = layout.buffers.flatMap((b) => b.cpus).find((c) => c.size > 0);
    expect(cpu).toBeDefined();
    const bytes = Uint8Array.from(readFileSync(path));
    const whole = await readAll(path);
    const pageEvents = whole.events.filter((e) => e.cpu === cpu?.cpu).length;
    new DataView(bytes.buffer).setUint32((cpu?.offset as number) + 8, 4090, true); // > 4080 bytes of data
    const r = await outcome(write(bytes));
    expect(r.error).toBeNull();
    expect(r.warnings).toContainEqual(expect.stringMatching(new RegExp(`offset 0x${(cpu?.offset as number).toString(16)}: .*commit size 4090 exceeds its 4080 bytes of data; page skipped`)));
    expect(r.events).toBeLessThan(whole.events.length);
    expect(r.events).toBeGreaterThanOrEqual(whole.events.length - pageEvents);
  });

  it("a record whose length runs past the commit skips the rest of its page with a warning", async () => {
    const path = fixtureFile("sched-x86tsc", "v7-none");
    const layout = readTraceDatLayout(new FileSource(path));
    const cpu = layout.buffers.flatMap((b) => b.cpus).find((c) => c.size > 0) as { offset: number };
    const bytes = Uint8Array.from(readFileSync(path));
    const dv = new DataView(bytes.buffer);
    // The first record: make it a type-0 record whose length word claims 60000 bytes.
    const rec = cpu.offset + 16;
    dv.setUint32(rec, dv.getUint32(rec, true) & ~31, true);
    dv.setUint32(rec + 4, 60000, true);
    const r = await outcome(write(bytes));
    expect(r.error).toBeNull();
    expect(r.warnings).toContainEqual(expect.stringMatching(/offset 0x[0-9a-f]+: .*runs past the committed data at byte 16 of the page; rest of the page skipped/));
  });

  it("an unknown option is skipped with a warning; the events are unchanged", async () => {
    const path = fixtureFile("marker-mono", "v6");
    const bytes = Uint8Array.from(readFileSync(path));
    const opts = Buffer.from(bytes.buffer).indexOf("options  \0") + 10;
    // Walk the v6 options to the TRACEID (11) option and renumber it.
    const dv = new DataView(bytes.buffer);
    let p = opts;
    let at = -1;
    while (dv.getUint16(p, true) !== 0) {
      if (dv.getUint16(p, true) === 11) at = p;
      p += 6 + dv.getUint32(p + 2, true);
    }
    expect(at).toBeGreaterThan(0);
    dv.setUint16(at, 4242, true);
    const damaged = await readAll(write(bytes));
    const whole = await readAll(path);
    expect(damaged.info.warnings).toContain(`${join(dir, `case-${n - 1}.dat`)}: offset 0x${at.toString(16)}: unknown option 4242 (8 bytes) skipped`);
    expect(damaged.info.timeRecords.traceId).toBeUndefined();
    expect(damaged.events).toEqual(whole.events);
  });

  it("a format file that does not parse: a warning, and its events come out as unknown:<id> with no fields", async () => {
    const path = fixtureFile("sched-x86tsc", "v6");
    const bytes = Uint8Array.from(readFileSync(path));
    const b = Buffer.from(bytes.buffer);
    const at = b.indexOf("name: sched_switch\nID: ") + "name: sched_switch\n".length;
    const id = Number(/ID: (\d+)/.exec(b.subarray(at, at + 20).toString("latin1"))?.[1]);
    b.write("IX", at, "latin1");
    const damaged = await readAll(write(bytes));
    const whole = await readAll(path);
    expect(damaged.info.warnings.some((w) => /offset 0x[0-9a-f]+: event format \(sched\): event sched_switch has no ID/.test(w))).toBe(true);
    expect(damaged.warnings.some((w) => w.includes(`event type ${id} has no format`))).toBe(true);
    expect(damaged.events.length).toBe(whole.events.length);
    expect(damaged.events.filter((e) => e.name === `unknown:${id}`).length).toBe(whole.events.filter((e) => e.name === "sched:sched_switch").length);
    expect(damaged.events.find((e) => e.name === `unknown:${id}`)?.fields).toEqual({});
  });

  it("a version 8 header is refused, naming the version", async () => {
    const bytes = Uint8Array.from(readFileSync(fixtureFile("marker-mono", "v7-zstd")));
    bytes[10] = "8".charCodeAt(0);
    const r = await outcome(write(bytes));
    expect(r.error).toMatch(/offset 0xa: trace\.dat version "8" is not supported/);
  });

  it("a compressed chunk that claims a huge size is refused before any allocation", async () => {
    const path = fixtureFile("marker-mono", "v7-zstd");
    const layout = readTraceDatLayout(new FileSource(path));
    const cpu = layout.buffers.flatMap((b) => b.cpus).find((c) => c.size > 0) as { offset: number };
    const bytes = Uint8Array.from(readFileSync(path));
    new DataView(bytes.buffer).setUint32(cpu.offset + 8, 0xfffff000, true); // uncompressed size of chunk 0
    const r = await outcome(write(bytes));
    expect(r.error).toBeNull();
    expect(r.warnings).toContainEqual(expect.stringMatching(/offset 0x[0-9a-f]+: .*a chunk decompresses to 4294963200 bytes, over the \d+-byte limit; the rest of this CPU's data is skipped/));
  });

  it("options sections that link back to themselves stop with a warning, not a loop", async () => {
    const path = fixtureFile("sched-x86tsc", "v7-none");
    const bytes = Uint8Array.from(readFileSync(path));
    const h = readTracingHeader(bytes, "x");
    const hc = new BufferCursor(bytes, true, "x", 0, h.end);
    hc.cstring(64);
    hc.cstring(64);
    let sec = Number(hc.u64());
    const dv = new DataView(bytes.buffer);
    // Follow the chain to the last section and point its DONE at the first one.
    const first = sec;
    for (;;) {
      const size = Number(dv.getBigUint64(sec + 8, true));
      let p = sec + 16;
      let next = 0;
      let doneAt = -1;
      while (p < sec + 16 + size) {
        const id = dv.getUint16(p, true);
        const len = dv.getUint32(p + 2, true);
        if (id === 0) {
          doneAt = p + 6;
          next = Number(dv.getBigUint64(p + 6, true));
          break;
        }
        p += 6 + len;
      }
      if (next === 0) {
        dv.setBigUint64(doneAt, BigInt(first), true);
        break;
      }
      sec = next;
    }
    const r = await outcome(write(bytes));
    expect(r.warnings).toContainEqual(expect.stringMatching(/offset 0x[0-9a-f]+: options sections link back to themselves; stopped following/));
  });

  it("a FIFO or a directory is refused without blocking", async () => {
    const fifo = join(dir, "fifo.dat");
    execFileSync("mkfifo", [fifo]);
    await expect(traceDatFormat.open(fifo, {})).rejects.toMatchObject({ code: "IO_ERROR", message: expect.stringMatching(/is a FIFO, not a regular file/) });
    await expect(traceDatFormat.open(dir, {})).rejects.toMatchObject({ code: "IO_ERROR", message: expect.stringMatching(/is a directory/) });
    await expect(traceDatFormat.open(join(dir, "missing.dat"), {})).rejects.toMatchObject({ code: "IO_ERROR" });
  });

  it("not a trace.dat at all", async () => {
    const r = await outcome(write(new TextEncoder().encode("# tracer: nop\n")));
    expect(r.error).toMatch(/offset 0x0: not a trace\.dat file/);
  });
});
