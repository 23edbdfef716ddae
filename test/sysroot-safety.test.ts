import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_BIN, runCli } from "./support/run-cli.js";
import { link, mkfifo, put, scratchDirs } from "./support/hostile-tree.js";

/**
 * `probe --sysroot` on roots made hostile on purpose: links out of the root,
 * FIFOs and devices where files belong, huge kernel logs. Each run is a
 * subprocess with a time limit, so a hang fails the case instead of stalling.
 */

const tempDir = scratchDirs();

const IS_ROOT = process.getuid?.() === 0;
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
if (!IS_ROOT) console.warn("skipping the device-node sysroot case: mknod needs root");
if (!TIME) console.warn("skipping the memory checks of huge kernel logs: /usr/bin/time (package time) is not installed");

const CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu tsc constant_tsc nonstop_tsc lm\nmodel name\t: Test CPU\n";
/** A probe of a broken root must finish well within this; a hang is stopped here and fails. */
const LIMIT_MS = 30_000;

interface Report {
  facts: { name: string; value: unknown; source: string; confidence: string; reason?: string }[];
}

function probeJson(root: string): { report: Report; stdout: string } {
  const r = runCli(["probe", "--json", "--sysroot", root], { timeoutMs: LIMIT_MS });
  expect(r.status, `probe ended by timeout or failure: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe("");
  return { report: JSON.parse(r.stdout) as Report, stdout: r.stdout };
}

/** Runs the CLI under /usr/bin/time: its exit status, and its peak resident memory in KiB. */
function probeMeasured(root: string): { status: number | null; maxRssKiB: number; stdout: string } {
  const r = spawnSync(TIME as string, ["-f", "maxrss=%M", process.execPath, CLI_BIN, "probe", "--json", "--sysroot", root], {
    encoding: "utf8",
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? "" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /maxrss=(\d+)/.exec(r.stderr);
  return { status: r.status, maxRssKiB: m ? Number(m[1]) : Number.NaN, stdout: r.stdout };
}

describe("probe --sysroot stays inside the root", () => {
  it("never reads through a link to a file outside the root (absolute, relative, via a directory)", () => {
    const outside = tempDir("cs-outside-");
    const secret = `SECRET-${process.pid}-must-not-be-printed`;
    writeFileSync(join(outside, "shadow"), `${secret}\nvendor_id : ${secret}\n`);
    const root = tempDir("cs-sysroot-");
    link(root, "proc/cpuinfo", join(outside, "shadow"));
    link(root, "var/log/dmesg", `../../../../../../../../..${join(outside, "shadow")}`);
    link(root, "sys/devices/system/clocksource", outside);
    link(root, "sys/class/dmi/id/sys_vendor", join(outside, "shadow"));
    const { report, stdout } = probeJson(root);
    expect(stdout).not.toContain(secret);
    const cpuinfo = report.facts.find((f) => f.name === "arch" && f.source === "proc/cpuinfo");
    expect(cpuinfo).toMatchObject({ confidence: "unknown", reason: expect.stringMatching(/symbolic link proc\/cpuinfo -> .* leads nowhere inside the root/) });
    // The text report too.
    const text = runCli(["probe", "--sysroot", root], { timeoutMs: LIMIT_MS });
    expect(text.status).toBe(0);
    expect(text.stdout).not.toContain(secret);
  });

  it("follows an absolute link inside the root as a chroot would", () => {
    const root = tempDir("cs-sysroot-");
    put(root, "saved/cpuinfo", CPUINFO);
    link(root, "proc/cpuinfo", "/saved/cpuinfo");
    const { report } = probeJson(root);
    expect(report.facts.find((f) => f.name === "cpu.model")).toMatchObject({ value: "Test CPU", source: "proc/cpuinfo (model name)" });
  });

  it("reports a link loop as unknown with the reason", () => {
    const root = tempDir("cs-sysroot-");
    link(root, "proc/cpuinfo", "cpuinfo2");
    link(root, "proc/cpuinfo2", "/proc/cpuinfo");
    const { report } = probeJson(root);
    expect(report.facts.find((f) => f.name === "arch" && f.source === "proc/cpuinfo")).toMatchObject({ confidence: "unknown", reason: expect.stringMatching(/link loop/) });
  });

  it("does not open a FIFO at proc/cpuinfo or var/log/dmesg (no hang: the run has a time limit)", () => {
    const root = tempDir("cs-sysroot-");
    mkfifo(join(root, "proc/cpuinfo"));
    mkfifo(join(root, "var/log/dmesg"));
    mkfifo(join(root, "dev/cpu/0/cpuid"));
    const { report } = probeJson(root);
    expect(report.facts.find((f) => f.name === "arch" && f.source === "proc/cpuinfo")).toMatchObject({ confidence: "unknown", reason: "is a FIFO, not a regular file" });
    expect(report.facts.find((f) => f.name === "kernel.log")).toMatchObject({ source: "var/log/dmesg", reason: "is a FIFO, not a regular file" });
  });

  it.skipIf(!IS_ROOT)("does not open a device node in a snapshot (mknod)", () => {
    const root = tempDir("cs-sysroot-");
    put(root, "proc/cpuinfo", CPUINFO);
    for (const path of ["var/log/dmesg", "dev/cpu/0/cpuid", "sys/devices/system/clocksource/clocksource0/current_clocksource"]) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      expect(spawnSync("mknod", [join(root, path), "c", "1", "5"]).status).toBe(0); // /dev/zero's numbers
    }
    const { report } = probeJson(root);
    expect(report.facts.find((f) => f.name === "kernel.log")).toMatchObject({ reason: "is a character device, not a regular file" });
    expect(report.facts.find((f) => f.name === "x86.cpuid")).toMatchObject({ confidence: "unknown", reason: expect.stringMatching(/character device/) });
    expect(report.facts.find((f) => f.name === "kernel.clocksource.current")).toMatchObject({ confidence: "unknown", reason: expect.stringMatching(/character device/) });
  });
});

describe("probe --sysroot with huge kernel logs", () => {
  it("says when a 20 MB kernel log was cut, and uses the part it read", { timeout: 120_000 }, () => {
    const root = tempDir("cs-sysroot-");
    put(root, "proc/cpuinfo", CPUINFO);
    const head = "[    0.000000] Linux version 6.1.0 (x86_64)\n[    0.100000] tsc: Detected 2893.202 MHz processor\n";
    const filler = "[    1.000000] a kernel message of no interest to the probes, repeated to pass the cap\n";
    const tail = "[   99.000000] tsc: Marking TSC unstable due to clocksource watchdog\n";
    mkdirSync(join(root, "var/log"), { recursive: true });
    const fd = openSync(join(root, "var/log/dmesg"), "wx");
    try {
      writeSync(fd, head);
      const block = filler.repeat(10_000);
      for (let written = 0; written < 20_000_000; written += block.length) writeSync(fd, block);
      writeSync(fd, tail);
    } finally {
      closeSync(fd);
    }
    const { report } = probeJson(root);
    expect(report.facts.filter((f) => f.name === "input.truncated")).toEqual([
      { name: "input.truncated", value: true, source: "var/log/dmesg", confidence: "definitive", reason: "read only the first 16777216 bytes: facts from what follows are missing" },
    ]);
    expect(report.facts.find((f) => f.name === "x86.tsc_frequency_hz")).toMatchObject({ value: 2_893_202_000 });
    // The line past the cap was not read, and the report says why it may be missing.
    expect(report.facts.some((f) => f.name === "x86.tsc_unstable" && f.value === true)).toBe(false);
  });

  // Generous limits: this guards against a stall on a shared, busy machine; it measures memory, not time.
  it.skipIf(!TIME)("reads 16 MB of newlines and 4 million short lines in bounded memory", { timeout: 300_000 }, () => {
    const newlines = tempDir("cs-sysroot-");
    put(newlines, "proc/cpuinfo", CPUINFO);
    put(newlines, "var/log/dmesg", Buffer.alloc(16_000_000, 0x0a));
    const short = tempDir("cs-sysroot-");
    put(short, "proc/cpuinfo", CPUINFO);
    put(short, "var/log/dmesg", Buffer.from("x\n".repeat(4_000_000)));
    const baseline = tempDir("cs-sysroot-");
    put(baseline, "proc/cpuinfo", CPUINFO);
    for (const [name, root] of [["baseline", baseline], ["16 MB of newlines", newlines], ["4M short lines", short]] as const) {
      const m = probeMeasured(root);
      expect(m.status, name).toBe(0);
      expect(JSON.parse(m.stdout).schema).toBe("clocksource.probe/v1");
      // Before: 571 MB for the newlines. The log's bytes and its text are 32 MB; the rest is the CLI itself.
      expect(m.maxRssKiB, `${name}: peak RSS ${m.maxRssKiB} KiB`).toBeLessThan(200 * 1024);
    }
  });
});
