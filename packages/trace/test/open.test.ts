import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isClocksourceError } from "@clocksource/core";
import { afterAll, describe, expect, it } from "vitest";
import type { TraceEvent, TraceFormat } from "../src/model/event.js";
import { detectTraceFormat, eventsOf, openTrace, traceFormatReader, traceFormats } from "../src/open.js";
import { DATA_DIR } from "./support/text-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "open-trace-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Committed files of every format, copied under names that say nothing. */
const SAMPLES: [string, TraceFormat][] = [
  ["sched-x86tsc-v6.dat", "trace-cmd"],
  ["sched-x86tsc-v7-zstd.dat", "trace-cmd"],
  ["perf-sched-mono.data", "perf.data"],
  ["perf-pipe.data", "perf.data"],
  ["text-tracefs-x86tsc.trace.txt", "ftrace-text"],
  ["text-tracefs-local.pipe.txt", "ftrace-text"],
  ["text-report-two-buffer-mono-v6.t.txt", "ftrace-text"],
  ["text-report-sched-x86tsc-v7-zstd.l.txt", "ftrace-text"],
  ["sched-x86tsc-v6.dat.report.txt", "ftrace-text"],
  ["perf-sched-mono.script.txt", "perf-script"],
  ["perf-cpu-clock.script.txt", "perf-script"],
];

describe("openTrace", () => {
  it("lists every format, trace.dat and perf.data included", () => {
    expect([...traceFormats()].sort()).toEqual(["ftrace-text", "jsonl", "perf-script", "perf.data", "trace-cmd"]);
  });

  it.each(SAMPLES)("recognises %s by its content (as %s), not its name", async (name, format) => {
    const anon = join(tmp, `x-${name.replace(/\W/g, "")}`);
    copyFileSync(join(DATA_DIR, name), anon);
    expect(await detectTraceFormat(anon)).toBe(format);
    const r = await openTrace(anon, { clock: "mono" });
    expect(r.info.format).toBe(format);
    let count = 0;
    let last: TraceEvent | null = null;
    for await (const e of eventsOf(r)) {
      if (last !== null) expect(e.ts >= last.ts).toBe(true);
      last = e;
      count++;
    }
    expect(count).toBeGreaterThan(0);
    await r.close();
  });

  it("recognises JSON lines, and a dump of any format is JSON lines", async () => {
    const p = join(tmp, "events");
    writeFileSync(p, '{"ts":"5","clock":"mono"}\n');
    expect(await detectTraceFormat(p)).toBe("jsonl");
  });

  it("reads a file as the format it is told, whatever it looks like", async () => {
    const p = join(tmp, "told");
    writeFileSync(p, "  a-1 [000] 1.000001: x: y=1\n");
    expect(await detectTraceFormat(p)).toBe("ftrace-text");
    const drain = async () => {
      const r = await openTrace(p, { format: "jsonl" });
      for await (const e of eventsOf(r)) void e;
    };
    await expect(drain()).rejects.toThrow(/line 1: not JSON .*: not a JSON lines trace/);
    expect(() => traceFormatReader("pcap")).toThrow(/unknown trace format "pcap" \(formats: trace-cmd, perf.data, jsonl, ftrace-text, perf-script\)/);
  });

  it("refuses what is not a trace, naming the file and the formats", async () => {
    const p = join(tmp, "garbage.dat");
    writeFileSync(p, Buffer.from([0, 1, 2, 3, 255, 254]));
    await expect(openTrace(p)).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "INVALID_TRACE") && (e as Error).message.startsWith(`${p}: not a trace in a format read here`));
    const empty = join(tmp, "empty");
    writeFileSync(empty, "");
    await expect(openTrace(empty)).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "INVALID_TRACE"));
  });

  it("never opens a FIFO, a device or a directory, and says what it is", async () => {
    const fifo = join(tmp, "fifo");
    execFileSync("mkfifo", [fifo]);
    // Nothing writes to the FIFO: a reader that opened it would wait here for ever.
    await expect(openTrace(fifo)).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "IO_ERROR") && /is a FIFO, not a regular file/.test((e as Error).message));
    await expect(openTrace(fifo, { format: "ftrace-text" })).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "IO_ERROR"));
    await expect(openTrace("/dev/zero")).rejects.toThrow(/is a character device, not a regular file/);
    await expect(openTrace(tmp)).rejects.toThrow(/is a directory, not a regular file/);
    await expect(openTrace(join(tmp, "missing"))).rejects.toSatisfy((e: unknown) => isClocksourceError(e, "IO_ERROR") && /not present/.test((e as Error).message));
  });
});
