/**
 * The exit-status rule, as docs/cli.md states it: 2 for a usage error the user
 * can fix on the command line, 1 for a failure at run time. Every row of the
 * CLI's error-code table is run through the real command (a subprocess) by a
 * test plugin whose clock throws that code; then the classes of error the rule
 * names are each produced the natural way.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_BIN, runCli, type CliRun } from "../../../test/support/run-cli.js";
import { EXIT_FOR_CODE } from "../src/main.js";

const tmp = mkdtempSync(join(tmpdir(), `cli-exit-codes-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
if (process.geteuid?.() === 0) console.warn("skipping the permission-denied case: running as root, every file is readable");
const PLUGIN = fileURLToPath(new URL("./fixtures/throwing-backend-plugin.mjs", import.meta.url));

/** The rule, written down independently of the table it checks: only these codes are usage errors. */
const USAGE_CODES = new Set(["INVALID_ARGUMENT", "INVALID_U64", "UNKNOWN_BACKEND"]);

function oneLine(r: CliRun, status: 1 | 2): void {
  expect(r.status, r.stderr).toBe(status);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines.at(-1)).toMatch(/^clocksource: \S/);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
}

describe("every error code exits as the rule says (subprocess, through a plugin that throws it)", () => {
  const codes = Object.keys(EXIT_FOR_CODE);

  it("the table has a row for every code, each 1 or 2", () => {
    expect(codes.length).toBeGreaterThanOrEqual(14);
    for (const c of codes) expect([1, 2]).toContain(EXIT_FOR_CODE[c as keyof typeof EXIT_FOR_CODE]);
  });

  it.each(codes)("%s", { timeout: 60_000 }, (code) => {
    const r = runCli(["now", "--plugin", PLUGIN, "--backend", "exit-code-probe"], { env: { CLOCKSOURCE_TEST_THROW: code } });
    expect(r.stderr).toBe(`clocksource: test error ${code}\n`);
    oneLine(r, USAGE_CODES.has(code) ? 2 : 1);
  });
});

describe("usage errors the user fixes on the command line: exit 2", () => {
  it.each([
    ["an unknown command", ["frobnicate"], /unknown command "frobnicate"/],
    ["an unknown option", ["probe", "--frobnicate"], /Unknown option '--frobnicate'/],
    ["a bad value", ["kvm-mapping", "--pid", "12x"], /--pid must be a process id/],
    ["a missing required option", ["convert"], /--mapping FILE is required/],
    ["options that do not go together", ["kvm-mapping", "--pid", "1", "--interval", "50"], /--interval is only for --watch/],
    ["a backend name that does not exist", ["now", "--backend", "no-such-backend"], /unknown backend "no-such-backend"/],
    ["a u64 that is not one", ["arm-mapping", "--voffset", "0xZZ"], /--voffset is not an unsigned 64-bit integer/],
  ])("%s", { timeout: 60_000 }, (_what, args, message) => {
    const r = runCli(args as string[]);
    oneLine(r, 2);
    expect(r.stderr).toMatch(message as RegExp);
  });
});

describe("failures at run time: exit 1", () => {
  it("a missing file", { timeout: 60_000 }, () => {
    const r = runCli(["arm-mapping", "--epochs", join(tmp, "absent.jsonl")]);
    oneLine(r, 1);
    expect(r.stderr).toMatch(/not present/);
  });

  it("a missing system root (not the same exit as a bad flag)", { timeout: 60_000 }, () => {
    const r = runCli(["probe", "--sysroot", join(tmp, "no-such-root")]);
    oneLine(r, 1);
    expect(r.stderr).toMatch(/cannot use .* as a system root/);
  });

  it("invalid data in a mapping file (a repeated key)", { timeout: 60_000 }, () => {
    const p = join(tmp, "dup.json");
    const params = '{"tscOffset":"0","tscScalingRatio":"281474976710656","fracBits":48}';
    writeFileSync(
      p,
      `{"schema":"clocksource.mapping/v1","kind":"kvm-x86-tsc","from":"guest.tsc","to":"host.tsc","createdAt":"2025-01-01T00:00:00Z","producer":"t","exact":true,"errorBound":"0","epochs":[{"observedAt":"2025-01-01T00:00:00Z","validFrom":null,"validUntil":null,"errorBound":"0","params":${params},"params":${params}}]}`,
    );
    const r = runCli(["convert", "--mapping", p], { input: "5\n" });
    oneLine(r, 1);
    expect(r.stderr).toMatch(/duplicate key "params"/);
  });

  it("a FIFO given as a mapping file: one line, at once", { timeout: 60_000 }, () => {
    const fifo = join(tmp, "mapping.fifo");
    if (spawnSync("mkfifo", [fifo]).status !== 0) {
      console.warn("skipping: mkfifo failed");
      return;
    }
    const r = runCli(["convert", "--mapping", fifo], { input: "5\n", timeoutMs: 15_000 });
    oneLine(r, 1);
    expect(r.stderr).toMatch(/FIFO/);
  });

  it("a file that is refused as output", { timeout: 60_000 }, () => {
    const r = runCli(["arm-mapping", "--voffset", "1", "--out", "/dev/zero"]);
    oneLine(r, 1);
    expect(r.stderr).toMatch(/refusing to write mapping file \/dev\/zero/);
  });

  it("a damaged trace", { timeout: 60_000 }, () => {
    const p = join(tmp, "cut.dat");
    writeFileSync(p, Buffer.concat([Buffer.from([0x17, 0x08, 0x44]), Buffer.from("tracing6\0"), Buffer.from([0, 8, 0, 0, 0x10, 0, 0])]));
    const r = runCli(["trace", "info", p]);
    oneLine(r, 1);
  });

  it("no backend the policy allows (a capability missing, not a typo)", { timeout: 60_000 }, () => {
    const r = runCli(["now", "--exclude", "os-monotonic,x86-tsc,arm-generic-timer,paravirt"]);
    oneLine(r, 1);
    expect(r.stderr).toMatch(/no backend is usable/);
  });

  it.skipIf(process.geteuid?.() === 0)("permission denied (as a normal user)", { timeout: 60_000 }, () => {
    const p = join(tmp, "private.jsonl");
    writeFileSync(p, "");
    chmodSync(p, 0o000);
    const r = runCli(["arm-mapping", "--epochs", p]);
    oneLine(r, 1);
    expect(r.stderr).toMatch(/permission denied/);
  });

  describe("a peer: authentication, timeout, protocol", () => {
    const servers: Server[] = [];
    afterAll(async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    });
    const listen = async (path: string, onConnection: Parameters<typeof createServer>[1]) => {
      const s = createServer(onConnection);
      servers.push(s);
      await new Promise<void>((resolve) => s.listen(path, resolve));
    };

    it("a wrong token", { timeout: 90_000 }, async () => {
      const dir = join(tmp, "auth");
      mkdirSync(dir);
      writeFileSync(join(dir, "agent.token"), "a".repeat(44), { mode: 0o600 });
      writeFileSync(join(dir, "other.token"), "b".repeat(44), { mode: 0o600 });
      const sock = join(dir, "agent.sock");
      const agent = spawn(process.execPath, [CLI_BIN, "agent", "--listen", `unix:${sock}`, "--token-file", join(dir, "agent.token")], {
        env: { PATH: process.env.PATH ?? "" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let log = "";
      agent.stderr.on("data", (d) => (log += d));
      try {
        const end = Date.now() + 30_000;
        while (!/listening/.test(log) && Date.now() < end && agent.exitCode === null) await new Promise((r) => setTimeout(r, 50));
        expect(log).toMatch(/listening/);
        const r = runCli(["sync", "--connect", `unix:${sock}`, "--token-file", join(dir, "other.token"), "--samples", "3"]);
        oneLine(r, 1);
        expect(r.stderr).toMatch(/auth/i);
      } finally {
        agent.kill("SIGTERM");
      }
    });

    it("a peer that never answers (timeout)", { timeout: 90_000 }, async () => {
      const sock = join(tmp, "silent.sock");
      await listen(sock, () => undefined);
      const r = runCli(["sync", "--connect", `unix:${sock}`, "--timeout", "200", "--retries", "0", "--samples", "3"]);
      oneLine(r, 1);
      expect(r.stderr).toMatch(/time/i);
    });

    it("a peer that breaks the protocol", { timeout: 90_000 }, async () => {
      const sock = join(tmp, "junk.sock");
      await listen(sock, (c) => {
        c.on("error", () => undefined);
        c.end(Buffer.alloc(64, 0xff));
      });
      const r = runCli(["sync", "--connect", `unix:${sock}`, "--timeout", "2000", "--retries", "0", "--samples", "3"]);
      oneLine(r, 1);
    });
  });
});
