/**
 * `clocksource pairs` on this machine: the fitted counter rate agrees with the
 * kernel's, and the mapping ties a nanosecond-clock trace to a TSC-clock
 * trace of the same machine. A process stamps CLOCK_MONOTONIC just before and
 * just after each trace_marker write (a JSON lines trace, clock mono) while
 * the kernel records the writes with the x86-tsc trace clock (a trace.dat);
 * merged through the pairs mapping, every write's ftrace:print event must fall
 * between its two stamps, give or take the mapping's bound.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseMappingFile } from "@clocksource/core";
import { extractInstances, removeInstance, TRACEFS } from "../../trace/test/support/tracefs-record.js";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "pairs-"));
const instance = `clocksource-pairs-${process.pid}`;
const instanceDir = join(TRACEFS, "instances", instance);
afterAll(() => {
  removeInstance(instanceDir);
  rmSync(tmp, { recursive: true, force: true });
});

/** Why pairs cannot run here (no native counter reader), or null; any other failure is the test's to report. */
function nativeReason(): string | null {
  const r = runCli(["pairs", "--samples", "50", "--duration", "20"]);
  return r.status !== 0 && /native counter reader|no counter the native reader/.test(r.stderr) ? r.stderr.trim() : null;
}
const noNative = nativeReason();
if (noNative) console.log(`[pairs] skipped: ${noNative}`);
const x86 = process.arch === "x64";
const traceReason = !x86
  ? "the trace test uses the x86-tsc trace clock"
  : process.getuid?.() !== 0
    ? "needs root (tracefs instances)"
    : !existsSync(join(TRACEFS, "instances"))
      ? `${TRACEFS} is not mounted`
      : spawnSync("trace-cmd", ["--version"]).error
        ? "trace-cmd is not installed"
        : null;
if (!noNative && traceReason) console.log(`[pairs] trace test skipped: ${traceReason}`);

describe.skipIf(noNative !== null)("clocksource pairs", () => {
  it("fits the counter's rate to the kernel's within the bound it reports", () => {
    const r = runCli(["pairs", "--samples", "4000", "--duration", "800"]);
    expect(r.status, r.stderr).toBe(0);
    const file = parseMappingFile(r.stdout);
    expect(file.kind).toBe("clock-pairs");
    expect(file.from).toMatch(/^host\.(tsc|cntvct)$/);
    expect(file.to).toBe("host.monotonic");
    const p = file.epochs[0]?.params as { num: string; den: string };
    const hz = (Number(p.den) * 1e9) / Number(p.num);
    const mhz = readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/)?.[1];
    const log = spawnSync("dmesg", [], { encoding: "utf8" }).stdout ?? "";
    const detected = /tsc: (?:Refined TSC clocksource calibration|Detected): ([\d.]+) MHz/.exec(log)?.[1] ?? mhz;
    if (x86 && detected) {
      // 0.8 s of pairs with a ±bound at both ends: the rate is good to about 2·bound/0.8 s.
      const tolerance = (2 * Number(file.errorBound)) / 0.8e9 + 1e-5;
      expect(Math.abs(hz / (Number(detected) * 1e6) - 1)).toBeLessThan(tolerance);
    }
    expect(file.errorBound > 0n && file.errorBound < 1_000_000n).toBe(true);
  });

  it.skipIf(traceReason !== null)("ties a CLOCK_MONOTONIC trace to an x86-tsc trace.dat of the same machine", async () => {
    mkdirSync(instanceDir);
    writeFileSync(join(instanceDir, "trace_clock"), "x86-tsc");
    writeFileSync(join(instanceDir, "tracing_on"), "1");
    const pairsFile = join(tmp, "pairs.json");
    const pairs = spawn(process.execPath, [CLI_BIN, "pairs", "--samples", "6000", "--duration", "1500", "--out", pairsFile], { stdio: ["ignore", "ignore", "pipe"] });
    const writer = `
      const fs = require("node:fs");
      const fd = fs.openSync(${JSON.stringify(join(instanceDir, "trace_marker"))}, "w");
      let out = "";
      for (let i = 0; i < 300; i++) {
        const before = process.hrtime.bigint();
        fs.writeSync(fd, "pairs-test " + i);
        const after = process.hrtime.bigint();
        out += JSON.stringify({ ts: String(before), cpu: 0, pid: process.pid, tid: process.pid, comm: "writer", event: "js:before_write", fields: { seq: i }, clock: "mono" }) + "\\n";
        out += JSON.stringify({ ts: String(after), cpu: 0, pid: process.pid, tid: process.pid, comm: "writer", event: "js:after_write", fields: { seq: i }, clock: "mono" }) + "\\n";
        const until = Date.now() + 3; while (Date.now() < until) {}
      }
      process.stdout.write(out);`;
    const w = spawnSync(process.execPath, ["-e", writer], { encoding: "utf8", timeout: 30_000 });
    expect(w.status, w.stderr).toBe(0);
    await new Promise<void>((resolve) => pairs.on("close", () => resolve()));
    expect(pairs.exitCode).toBe(0);
    writeFileSync(join(instanceDir, "tracing_on"), "0");
    const dat = join(tmp, "host.dat");
    extractInstances([instance], dat, mkdtempSync(join(tmp, "extract-")));
    const js = join(tmp, "writer.jsonl");
    writeFileSync(js, w.stdout);
    const merged = runCli(["merge", `host=${dat}`, `host/js=${js}`, "--mapping", `host=${pairsFile}`, "-f", "jsonl"]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/route host\/js: host\.monotonic → host\.tsc: .*pairs\.json \(clock-pairs, 1 epoch\), inverted/);
    const bound = BigInt(parseMappingFile(readFileSync(pairsFile, "utf8")).errorBound);
    const hz = Number(readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/)?.[1] ?? "1000") * 1e6;
    const boundTicks = BigInt(Math.ceil((Number(bound) * hz) / 1e9)) + 1n;
    const events = merged.stdout.trim().split("\n").map((l) => JSON.parse(l) as { machine: string; ts: string; event: string; fields: Record<string, unknown> });
    const at = new Map<string, bigint>();
    for (const e of events) {
      if (e.event === "ftrace:print") {
        const m = /pairs-test (\d+)/.exec(String(e.fields.buf ?? ""));
        if (m) at.set(`print:${m[1]}`, BigInt(e.ts));
      } else if (e.event.startsWith("js:")) at.set(`${e.event}:${String(e.fields.seq)}`, BigInt(e.ts));
    }
    const bad: string[] = [];
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      const p = at.get(`print:${i}`);
      const b = at.get(`js:before_write:${i}`);
      const a = at.get(`js:after_write:${i}`);
      expect(p !== undefined && b !== undefined && a !== undefined, `write ${i} in both traces`).toBe(true);
      checked++;
      if ((b as bigint) - boundTicks > (p as bigint) || (p as bigint) > (a as bigint) + boundTicks) bad.push(`write ${i}: before ${b}, print ${p}, after ${a} (±${boundTicks} ticks)`);
    }
    expect(checked).toBe(300);
    expect(bad.slice(0, 3), `${bad.length} writes fell outside their stamps`).toEqual([]);
  }, 90_000);
});
