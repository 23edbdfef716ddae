import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { announceFixtureSkip, HAVE_FIXTURES, machineRoot } from "./support/fixtures.js";
import { CLI_BIN, runCli } from "./support/run-cli.js";
import { scratchDirs } from "./support/hostile-tree.js";

const tempDir = scratchDirs();

announceFixtureSkip();

const REPORT_KEYS = ["schema", "arch", "virtualization", "kernelClocksource", "x86", "arm", "facts", "backends", "selected"];

describe("clocksource (as a subprocess)", () => {
  it("prints help and version", () => {
    const help = runCli(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: clocksource <command>/);
    expect(help.stdout).toMatch(/probe/);
    const v = runCli(["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^clocksource \d+\.\d+\.\d+\nnative reader: (loaded \(.+\)|not loaded: .+)\nbackend packages: .+\nnode v\S+ \S+\n$/);
    expect(runCli(["probe", "--help"]).stdout).toMatch(/--sysroot DIR/);
  });

  it("probes this machine as readable text", () => {
    const r = runCli(["probe"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    for (const heading of ["architecture", "virtualization", "kernel clocksource", "facts (", "backends (best first)", "selected:"]) expect(r.stdout).toContain(heading);
  });

  it("probes this machine as JSON with every documented key", () => {
    const r = runCli(["probe", "--json"]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    for (const k of REPORT_KEYS) expect(report).toHaveProperty(k);
    expect(report.schema).toBe("clocksource.probe/v1");
    expect(["x86_64", "x86", "arm64", "arm", "unknown"]).toContain(report.arch);
    expect(["guest", "host", "bare-metal", "unknown"]).toContain(report.virtualization.role);
    expect(report.backends.map((b: { id: string }) => b.id)).toContain("os-monotonic");
    for (const b of report.backends) expect(Object.keys(b)).toEqual(expect.arrayContaining(["id", "usable", "rating", "reasons"]));
    for (const f of report.facts) expect(Object.keys(f)).toEqual(expect.arrayContaining(["name", "value", "source", "confidence"]));
    expect(typeof report.selected).toBe("string");
  });

  it("honours --backend and CLOCKSOURCE_BACKEND", () => {
    const r = runCli(["probe", "--json", "--backend", "os-monotonic"]);
    expect(JSON.parse(r.stdout).selected).toBe("os-monotonic");
    const e = runCli(["probe", "--json"], { env: { CLOCKSOURCE_BACKEND: "os-monotonic" } });
    expect(JSON.parse(e.stdout).selected).toBe("os-monotonic");
  });

  it.each([
    [["probe", "--bogus"], /^clocksource: probe: Unknown option '--bogus'\n$/],
    [["probe", "--backend", "nope"], /^clocksource: unknown backend "nope" \(registered: .*os-monotonic.*\)\n$/],
    [["probe", "--sysroot"], /^clocksource: probe: Option '--sysroot <value>' argument missing\n$/],
    [["frobnicate"], /^clocksource: unknown command "frobnicate"/],
    [["--frob"], /^clocksource: unknown option --frob/],
  ])("rejects %j with one line and exit 2", (args, message) => {
    const r = runCli(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr.split("\n").length).toBe(2);
  });

  it("reports output it cannot write as one line, exit 1 (a full disk), and a closed pipe quietly", () => {
    const full = openSync("/dev/full", "w");
    const r = spawnSync(process.execPath, [CLI_BIN, "probe"], { stdio: ["ignore", full, "pipe"], encoding: "utf8" });
    closeSync(full);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("clocksource: cannot write output: ENOSPC\n");
    const piped = spawnSync("sh", ["-c", `"${process.execPath}" "${CLI_BIN}" probe | head -c 10 >/dev/null; echo "status=\${PIPESTATUS:-done}"`], { encoding: "utf8" });
    expect(piped.stderr).toBe("");
  });

  it("makes standard error's stream only when something is written there (a pipe's brings the network stack), and guards it then too", () => {
    const dir = tempDir("cs-cli-streams-");
    // Preloaded: at exit, which built-ins the run loaded, and whether stderr's stream has its guard.
    const spy = join(dir, "spy.cjs");
    writeFileSync(spy, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(join(dir, "out.json"))}, JSON.stringify({ net: process.moduleLoadList.includes("NativeModule net"), made: Object.getOwnPropertyDescriptor(process, "stderr").get === undefined, guarded: Object.getOwnPropertyDescriptor(process, "stderr").get === undefined && process.stderr.listenerCount("error") > 0 })));\n`);
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, ["--require", spy, CLI_BIN, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
      return { status: r.status, stderr: r.stderr, seen: JSON.parse(readFileSync(join(dir, "out.json"), "utf8")) as { net: boolean; made: boolean; guarded: boolean } };
    };
    const quiet = run(["probe", "--json"]);
    expect(quiet).toEqual({ status: 0, stderr: "", seen: { net: false, made: false, guarded: false } });
    const usage = run(["convert", "--no-such-option"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^clocksource: /);
    expect(usage.seen).toEqual({ net: true, made: true, guarded: true });
  });

  it("a sysroot that is missing or a file is a failure at run time (exit 1), not a usage error", () => {
    const missing = runCli(["probe", "--sysroot", "/definitely/not/here"]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toMatch(/^clocksource: cannot use \/definitely\/not\/here as a system root: not present\n$/);
    const dir = tempDir("cs-cli-");
    writeFileSync(join(dir, "f"), "x");
    const r = runCli(["probe", "--sysroot", join(dir, "f")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a directory/);
  });

  it("probes an empty snapshot: everything unknown, with reasons, exit 0", () => {
    const r = runCli(["probe", "--json", "--sysroot", tempDir("cs-empty-")]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.arch).toBe("unknown");
    expect(report.virtualization.role).toBe("unknown");
    expect(report.facts.filter((f: { confidence: string }) => f.confidence === "unknown").length).toBeGreaterThan(0);
    expect(report.selected).toBe("os-monotonic");
  });

  it.skipIf(!HAVE_FIXTURES)("probes a snapshot with --sysroot", () => {
    const r = runCli(["probe", "--json", "--sysroot", machineRoot("rootfs__aws-ec2-nitro-r5.large")]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.live).toBe(false);
    expect(report.kernelClocksource).toEqual({ current: "tsc", available: ["tsc", "kvm-clock", "hpet", "acpi_pm"] });
    expect(report.virtualization).toMatchObject({ role: "guest", hypervisor: "kvm" });
  });
});

describe("clocksource now", () => {
  it("reads the selected clock twice, monotonically", () => {
    const a = JSON.parse(runCli(["now", "--json", "--backend", "os-monotonic"]).stdout);
    const b = JSON.parse(runCli(["now", "--json", "--backend", "os-monotonic"]).stdout);
    expect(a.backend).toBe("os-monotonic");
    expect(a.domain).toMatch(/\.monotonic$/);
    expect(BigInt(b.ticks) > BigInt(a.ticks)).toBe(true);
    expect(a.ns).toBe(a.ticks);
  });

  it("prints a readable line and rejects an unknown backend", () => {
    expect(runCli(["now"]).stdout).toMatch(/^\d+ ticks of \S+ \(\d+ Hz, backend \S+\) = \d+ ns\n$/);
    const r = runCli(["now", "--backend", "nope"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^clocksource: unknown backend "nope"/);
  });
});
