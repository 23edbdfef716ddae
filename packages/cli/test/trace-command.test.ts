import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventLineEncoder, openTrace, type TraceEvent, type TraceReader } from "@clocksource/trace";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../test/support/fixtures.js";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";
import { machineFromPath } from "../src/commands/trace.js";

const DATA = join(REPO_ROOT, "packages/trace/test/data");
const tmp = mkdtempSync(join(tmpdir(), "trace-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function library(path: string, options: { clock?: string } = {}): Promise<{ reader: TraceReader; events: TraceEvent[] }> {
  const reader = await openTrace(path, options);
  const events: TraceEvent[] = [];
  for await (const b of reader.batches()) events.push(...b);
  await reader.close();
  return { reader, events };
}

/** The lines `trace dump` must write: our library's events in the documented schema. */
async function expectedDump(path: string, machine: string, options: { clock?: string } = {}): Promise<string> {
  const { reader, events } = await library(path, options);
  const enc = new EventLineEncoder(machine, (b) => (reader.info.buffers.find((x) => x.name === b)?.clock ?? reader.info.clock).name);
  return events.map((e) => enc.encode(e)).join("");
}

const FILES = ["two-buffer-mono-v7-zstd.dat", "perf-sched-mono.data", "text-tracefs-x86tsc.trace.txt", "perf-pipe.script.txt", "text-report-lost-local-v7-zstd.t.txt"];

describe("clocksource trace dump", () => {
  it.each(FILES)("writes every event of %s as one JSON line, exactly", async (name) => {
    const path = join(DATA, name);
    const r = runCli(["trace", "dump", path, "--clock", "mono"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(await expectedDump(path, machineFromPath(path), { clock: "mono" }));
    const lines = r.stdout.trimEnd().split("\n");
    for (const l of lines) {
      const o = JSON.parse(l) as Record<string, unknown>;
      expect(Object.keys(o).slice(0, 9)).toEqual(["machine", "ts", "cpu", "pid", "tid", "comm", "event", "fields", "clock"]);
      expect(o.ts).toMatch(/^[0-9]+$/);
    }
  });

  it("gives the same dump where the engine refuses code generation (the field decoders fall back to interpreting the format)", () => {
    const NO_CODEGEN = { NODE_OPTIONS: "--disallow-code-generation-from-strings" };
    // The flag really refuses code generation here (else this test would prove nothing).
    expect(spawnSync(process.execPath, ["-e", "new Function('return 1')"], { env: { PATH: process.env.PATH ?? "", ...NO_CODEGEN } }).status).not.toBe(0);
    for (const name of ["perf-sched-mono.data", "two-buffer-mono-v7-zstd.dat"]) {
      const path = join(DATA, name);
      const normal = runCli(["trace", "dump", path]);
      const strict = runCli(["trace", "dump", path], { env: NO_CODEGEN });
      expect(strict.status, strict.stderr).toBe(0);
      expect(normal.stdout.length).toBeGreaterThan(1000);
      expect(strict.stdout).toBe(normal.stdout);
    }
  });

  it("names the machine after the file, or --machine", async () => {
    const copy = join(tmp, "guest-vm1.dat");
    copyFileSync(join(DATA, "marker-mono-v6.dat"), copy);
    const first = (args: string[]) => JSON.parse(runCli(["trace", "dump", copy, ...args]).stdout.split("\n")[0] as string) as { machine: string };
    expect(first([]).machine).toBe("guest-vm1");
    expect(["/x/host.perf.data", "t.txt", ".dat", "a.b.jsonl"].map(machineFromPath)).toEqual(["host", "t", ".dat", "a.b"]);
    expect(first(["--machine", "host A"]).machine).toBe("host A");
  });

  it("repeats the reader's warnings on stderr and exits 0", () => {
    const r = runCli(["trace", "dump", join(DATA, "text-tracefs-mono-tgid.trace.txt")]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("clocksource: warning: ");
    expect(r.stderr).toContain("does not name its trace clock; pass --clock NAME");
  });

  it("ends quietly when the reader of its output goes away (| head -1)", async () => {
    const big = join(tmp, "big.jsonl");
    writeFileSync(big, Array.from({ length: 200_000 }, (_, i) => `{"ts":"${i}","clock":"mono","event":"e","fields":{"pad":"${"x".repeat(40)}"}}`).join("\n"));
    const child = spawn(process.execPath, [CLI_BIN, "trace", "dump", big], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const firstLine = await new Promise<string>((resolve) => {
      let buf = "";
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          child.stdout.destroy();
          resolve(buf.slice(0, nl));
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(JSON.parse(firstLine)).toMatchObject({ ts: "0", event: "e" });
    expect(code).toBe(0);
    expect(stderr).toBe("");
  });

  it("waits for a slow reader without losing or reordering a line (backpressure)", async () => {
    const file = join(tmp, "slow.jsonl");
    writeFileSync(file, Array.from({ length: 50_000 }, (_, i) => `{"ts":"${i}","clock":"mono","event":"e${i % 7}"}`).join("\n"));
    const child = spawn(process.execPath, [CLI_BIN, "trace", "dump", file], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pause();
    // Long enough for the pipe to fill and the writer to wait on it.
    await new Promise((r) => setTimeout(r, 1500));
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(code).toBe(0);
    expect(Buffer.concat(chunks).toString("utf8")).toBe(await expectedDump(file, "slow"));
  });

  it("writes what it read before damage, then one line, exit 1", () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, [10, 11, 12, 13, 14, 15, 1].map((t) => `{"ts":"${t}","clock":"mono"}`).join("\n"));
    const r = runCli(["trace", "dump", bad, "--reorder-window", "2"]);
    expect(r.status).toBe(1);
    expect(r.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { ts: string }).ts)).toEqual(["10", "11", "12", "13", "14", "15"]);
    expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^clocksource: .*bad\.jsonl: line 7: timestamp 1 is earlier than .*reorder window \(2 events\)$/)]);
  });
});

describe("clocksource trace info", () => {
  it("describes a trace.dat: format, version, compression, clock, buffers, counts, time records", async () => {
    const path = join(DATA, "two-buffer-mono-v7-zstd.dat");
    const r = runCli(["trace", "info", path]);
    expect(r.status).toBe(0);
    const { events } = await library(path);
    expect(r.stdout).toMatch(/^format +trace-cmd, version 7, compression zstd$/m);
    // Two instances, no top-level buffer: each buffer names its clock.
    expect(r.stdout.match(/^ {2}clocksource-trace-\S+: clock mono \(counts ns; BUFFER option\), CPUs [0-9,]+, \d+ event\(s\), \d+ … \d+$/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(new RegExp(`^events +${events.length}$`, "m"));
    expect(r.stdout).toMatch(/^ {2}TRACEID +0x[0-9a-f]+ \(\d+\)$/m);
    expect(r.stdout).toContain(`first timestamp  ${events[0]?.ts}`);
    expect(r.stdout).toMatch(/^ {2}ftrace:print +\d+$/m);
  });

  it("--json: the documented schema, counts equal to the library's, 64-bit values as strings", async () => {
    for (const name of ["perf-sched-mono.data", "lost-local-v7-zstd.dat", "perf-sched-mono.script.txt"]) {
      const path = join(DATA, name);
      const r = runCli(["trace", "info", path, "--json"]);
      expect(r.status).toBe(0);
      const doc = JSON.parse(r.stdout) as {
        schema: string;
        format: string;
        events: { total: number; firstTs: string; lastTs: string; perName: Record<string, number>; perCpu: Record<string, number>; lostMarkers: number; lostEvents: string };
        timeRecords: Record<string, unknown>;
        buffers: { name: string; events: number }[];
        warnings: string[];
      };
      const { events } = await library(path);
      expect(doc.schema).toBe("clocksource.trace-info/v1");
      expect(doc.events.total).toBe(events.length);
      const perName: Record<string, number> = {};
      for (const e of events) perName[e.name] = (perName[e.name] ?? 0) + 1;
      expect(doc.events.perName).toEqual(perName);
      expect(Object.values(doc.events.perCpu).reduce((a, b) => a + b, 0)).toBe(events.length);
      expect(BigInt(doc.events.firstTs)).toBe(events.reduce((m, e) => (e.ts < m ? e.ts : m), events[0]?.ts ?? 0n));
      expect(doc.buffers.reduce((a, b) => a + b.events, 0)).toBe(events.length);
      if (name === "lost-local-v7-zstd.dat") expect(doc.events.lostMarkers).toBeGreaterThan(0);
      if (name === "perf-sched-mono.data") expect(doc.timeRecords.perfClockId).toBe(1);
      if (name === "perf-sched-mono.data") expect(typeof (doc.timeRecords.perfClockData as { clockIdTimeNs: unknown }).clockIdTimeNs).toBe("string");
    }
  });
});

describe("clocksource trace: usage", () => {
  it.each([
    [["trace", "info"], /trace info: FILE is required/],
    [["trace", "dump", "a", "b"], /trace dump: one FILE, got 2/],
    [["trace", "show", "a"], /trace: unknown subcommand "show" \(info or dump\)/],
    [["trace", "info", "a", "--machine", "x"], /--machine applies to dump/],
    [["trace", "dump", "a", "--json"], /--json applies to info/],
    [["trace", "dump", "a", "--format", "pcap"], /--format must be one of trace-cmd, perf.data, jsonl, ftrace-text, perf-script, got "pcap"/],
    [["trace", "dump", "a", "--reorder-window", "0"], /--reorder-window must be an integer/],
    [["trace", "dump", "a", "--clock", "a b"], /--clock must be a clock name/],
    [["trace", "dump", "a", "--bogus"], /trace dump: Unknown option '--bogus'/],
  ])("%j → exit 2, one line", (args, message) => {
    const r = runCli(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe("");
  });

  it("a file that is missing, not regular or not a trace is one line, not 0", () => {
    const notTrace = join(tmp, "notes.txt");
    writeFileSync(notTrace, "hello\n");
    for (const f of [join(tmp, "missing"), tmp, notTrace]) {
      const r = runCli(["trace", "info", f]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^clocksource: /);
    }
  });

  it("--format reads a file as that format", () => {
    const r = runCli(["trace", "dump", join(DATA, "text-tracefs-x86tsc.trace.txt"), "--format", "jsonl"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 1: not JSON .*not a JSON lines trace/);
  });
});
