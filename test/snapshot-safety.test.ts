import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { SNAPSHOT_FILE_MAX_BYTES, SNAPSHOT_LOG_MAX_BYTES, SNAPSHOT_TREE_FILE_MAX_BYTES } from "../packages/cli/src/snapshot-plan.js";
import { STAGING_MARKER } from "../packages/cli/src/snapshot-staging.js";
import { CLI_BIN, runCli, type CliRun } from "./support/run-cli.js";
import { runCliAsNobody, UNPRIVILEGED_SKIP } from "./support/unprivileged.js";
import { link, mkfifo, mknodChar, put, scratchDirs } from "./support/hostile-tree.js";

/**
 * `clocksource snapshot` on hostile sources and targets, as a subprocess with a
 * time limit per run (a hang fails instead of stalling): a snapshot is made to
 * be attached to bug reports, so it must hold nothing but probe inputs.
 */

const tempDir = scratchDirs();

const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn("skipping the device-node snapshot case: mknod needs root");
if (UNPRIVILEGED_SKIP) console.warn(UNPRIVILEGED_SKIP);

const LIMIT_MS = 60_000;

function snapshot(args: string[]): CliRun {
  return runCli(["snapshot", ...args], { timeoutMs: LIMIT_MS });
}

/** Every entry of a directory tree, with what it is. */
function entries(dir: string, prefix = ""): { path: string; kind: "file" | "directory" | "other" }[] {
  const out: { path: string; kind: "file" | "directory" | "other" }[] = [];
  for (const name of readdirSync(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(join(dir, rel));
    out.push({ path: rel, kind: st.isFile() ? "file" : st.isDirectory() ? "directory" : "other" });
    if (st.isDirectory()) out.push(...entries(dir, rel));
  }
  return out;
}

interface Manifest {
  copied: string[];
  skipped: { path: string; reason: string }[];
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, "SNAPSHOT.json"), "utf8")) as Manifest;
}

function skipReason(m: Manifest, path: string): string | undefined {
  return m.skipped.find((s) => s.path === path)?.reason;
}

const SECRET_OUT = `PRIVATE-KEY-${process.pid}-outside`;
const SECRET_IN = `root:$6$hash-${process.pid}-inside`;

/** Asserts the snapshot holds only regular files and directories, none with a secret in it. */
function expectClean(dir: string): void {
  for (const e of entries(dir)) {
    expect(e.kind, `${e.path} in the snapshot`).not.toBe("other");
    if (e.kind === "file") {
      const text = readFileSync(join(dir, e.path), "latin1");
      expect(text, e.path).not.toContain(SECRET_OUT);
      expect(text, e.path).not.toContain(SECRET_IN);
    }
  }
}

describe("snapshot --from ROOT copies only probe inputs reached inside ROOT", () => {
  it("follows no link out of ROOT, and inside ROOT only into sysfs devices and the device tree", () => {
    const outside = tempDir("cs-outside-");
    put(outside, "id_rsa", SECRET_OUT);
    mkdirSync(join(outside, "dmi"));
    put(outside, "dmi/sys_vendor", SECRET_OUT);
    const from = tempDir("cs-from-");
    put(from, "etc/shadow", SECRET_IN);
    const dt = "sys/firmware/devicetree/base";
    put(from, `${dt}/timer/compatible`, "arm,armv8-timer\0");
    link(from, `${dt}/timer/abs-out`, join(outside, "id_rsa")); // looked up inside ROOT: not there
    link(from, `${dt}/timer/rel-out`, `../../../../../../../../../../..${join(outside, "id_rsa")}`);
    link(from, `${dt}/timer/in-root`, "/etc/shadow"); // inside ROOT, but not a probe input
    link(from, `${dt}/timer/alias`, `/${dt}/timer/compatible`); // inside the device tree: copied
    link(from, `${dt}/loop`, "."); // a directory link: never followed
    link(from, `${dt}/etc`, "/etc");
    link(from, "proc/cpuinfo", "/etc/shadow");
    link(from, "sys/class/dmi/id", outside);
    put(from, "sys/devices/virtual/ptp/ptp0/clock_name", "KVM virtual PTP\n");
    link(from, "sys/class/ptp/ptp0", "../../devices/virtual/ptp/ptp0"); // a sysfs class link: copied
    link(from, "var/log/dmesg", "../../etc/shadow");

    const dir = join(tempDir("cs-snap-"), "out");
    const r = snapshot([dir, "--from", from]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expectClean(dir);
    const m = manifest(dir);
    expect(m.copied.sort()).toEqual([`${dt}/timer/alias`, `${dt}/timer/compatible`, "sys/class/ptp/ptp0/clock_name"].sort());
    expect(readFileSync(join(dir, `${dt}/timer/alias`), "utf8")).toBe("arm,armv8-timer\0");
    expect(readFileSync(join(dir, "sys/class/ptp/ptp0/clock_name"), "utf8")).toBe("KVM virtual PTP\n");
    expect(skipReason(m, "proc/cpuinfo")).toMatch(/symbolic link to etc\/shadow .*not copied/);
    expect(skipReason(m, "var/log/dmesg")).toMatch(/symbolic link to etc\/shadow .*not copied/);
    expect(skipReason(m, `${dt}/timer/in-root`)).toMatch(/symbolic link to etc\/shadow/);
    expect(skipReason(m, `${dt}/timer/abs-out`)).toMatch(/leads nowhere inside the root/);
    expect(skipReason(m, `${dt}/timer/rel-out`)).toMatch(/leads nowhere inside the root/);
    expect(skipReason(m, `${dt}/loop`)).toMatch(/symbolic link to the directory .*not followed/);
    expect(skipReason(m, `${dt}/etc`)).toMatch(/symbolic link to the directory etc: not followed/);
  });

  it("never reads a FIFO (each run has a time limit)", () => {
    const from = tempDir("cs-from-");
    put(from, "sys/firmware/devicetree/base/timer/compatible", "arm,armv8-timer\0");
    mkfifo(join(from, "proc/cpuinfo"));
    mkfifo(join(from, "var/log/dmesg"));
    mkfifo(join(from, "sys/firmware/devicetree/base/timer/clock-frequency"));
    mkfifo(join(from, "dev/cpu/0/cpuid"));
    const dir = join(tempDir("cs-snap-"), "out");
    const r = snapshot([dir, "--from", from]);
    expect(r.status).toBe(0);
    expectClean(dir);
    const m = manifest(dir);
    for (const p of ["proc/cpuinfo", "var/log/dmesg", "sys/firmware/devicetree/base/timer/clock-frequency", "dev/cpu/0/cpuid"]) expect(skipReason(m, p), p).toBe("is a FIFO, not a regular file");
  });

  it.skipIf(!IS_ROOT)("never opens a device node (mknod), and records no KVM device from one in a snapshot root", () => {
    const from = tempDir("cs-from-");
    for (const p of ["proc/cpuinfo", "var/log/dmesg", "sys/firmware/devicetree/base/timer/compatible", "dev/cpu/0/cpuid", "dev/kvm"]) mknodChar(join(from, p), 1, 5);
    const dir = join(tempDir("cs-snap-"), "out");
    const r = snapshot([dir, "--from", from]);
    expect(r.status).toBe(0);
    expectClean(dir);
    const m = manifest(dir);
    expect(m.copied).toEqual([]);
    for (const p of ["proc/cpuinfo", "var/log/dmesg", "sys/firmware/devicetree/base/timer/compatible", "dev/cpu/0/cpuid"]) expect(skipReason(m, p), p).toBe("is a character device, not a regular file");
    expect(skipReason(m, "dev/kvm")).toMatch(/character-device, not a snapshot's marker file/);
  });

  it("bounds sizes: cuts plain inputs and the log and says so, skips oversized device-tree properties", { timeout: 120_000 }, () => {
    const from = tempDir("cs-from-");
    put(from, "proc/cpuinfo", Buffer.alloc(SNAPSHOT_FILE_MAX_BYTES + 1000, 0x61));
    put(from, "var/log/dmesg", Buffer.alloc(20_000_000, 0x0a));
    put(from, "sys/firmware/devicetree/base/big", Buffer.alloc(SNAPSHOT_TREE_FILE_MAX_BYTES + 1));
    put(from, "sys/firmware/devicetree/base/small", Buffer.alloc(SNAPSHOT_TREE_FILE_MAX_BYTES));
    const dir = join(tempDir("cs-snap-"), "out");
    const r = snapshot([dir, "--from", from]);
    expect(r.status).toBe(0);
    const m = manifest(dir);
    expect(lstatSync(join(dir, "proc/cpuinfo")).size).toBe(SNAPSHOT_FILE_MAX_BYTES);
    expect(skipReason(m, "proc/cpuinfo")).toBe(`cut at ${SNAPSHOT_FILE_MAX_BYTES} bytes`);
    expect(lstatSync(join(dir, "var/log/dmesg")).size).toBe(SNAPSHOT_LOG_MAX_BYTES);
    expect(skipReason(m, "var/log/dmesg")).toBe(`cut at ${SNAPSHOT_LOG_MAX_BYTES} bytes`);
    expect(existsSync(join(dir, "sys/firmware/devicetree/base/big"))).toBe(false);
    expect(skipReason(m, "sys/firmware/devicetree/base/big")).toBe(`larger than ${SNAPSHOT_TREE_FILE_MAX_BYTES} bytes: not copied`);
    expect(lstatSync(join(dir, "sys/firmware/devicetree/base/small")).size).toBe(SNAPSHOT_TREE_FILE_MAX_BYTES);
  });

  it("re-snapshots a snapshot: its CPUID dump and KVM marker carry over", () => {
    const from = tempDir("cs-from-");
    put(from, "proc/cpuinfo", "vendor_id : GenuineIntel\nflags : fpu lm\n");
    put(from, "dev/cpu/0/cpuid", "CPU 0:\n   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n");
    put(from, "dev/kvm", "");
    const dir = join(tempDir("cs-snap-"), "out");
    expect(snapshot([dir, "--from", from]).status).toBe(0);
    expect(readFileSync(join(dir, "dev/cpu/0/cpuid"), "utf8")).toBe(readFileSync(join(from, "dev/cpu/0/cpuid"), "utf8"));
    expect(readFileSync(join(dir, "dev/kvm"), "utf8")).toBe("");
  });
});

describe("snapshot DIR: one clear line and the right exit status", () => {
  it("a DIR in /proc fails at once (no spin) with exit 1 and leaves nothing", () => {
    const r = snapshot([`/proc/cs-snapshot-${process.pid}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^clocksource: snapshot: cannot create \/proc\/cs-snapshot-\d+\.tmp-\d+: the file system does not allow new directories there/);
    expect(r.stderr.split("\n")).toHaveLength(2);
  });

  it("a DIR that is a file, a symbolic link or a dangling link is a usage error (exit 2)", () => {
    const parent = tempDir("cs-snap-");
    put(parent, "file", "keep");
    mkdirSync(join(parent, "real"));
    symlinkSync(join(parent, "real"), join(parent, "link"));
    symlinkSync(join(parent, "nowhere"), join(parent, "dangling"));
    const cases: [string, RegExp][] = [
      ["file", /exists and is not a directory/],
      ["link", /is a symbolic link \(to .*real\); give the directory itself/],
      ["dangling", /is a dangling symbolic link \(to .*nowhere\)/],
    ];
    for (const [name, message] of cases) {
      const r = snapshot([join(parent, name)]);
      expect(r.status, name).toBe(2);
      expect(r.stderr, name).toMatch(new RegExp(`^clocksource: snapshot: .*${message.source}.*\\n$`));
    }
    expect(readFileSync(join(parent, "file"), "utf8")).toBe("keep");
    expect(existsSync(join(parent, "nowhere"))).toBe(false);
    expect(readdirSync(join(parent, "real"))).toEqual([]);
    expect(readdirSync(parent).sort()).toEqual(["dangling", "file", "link", "real"]);
  });

  it("a missing parent is a failure at run time (exit 1)", () => {
    const r = snapshot([join(tempDir("cs-snap-"), "missing", "out")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^clocksource: snapshot: .*missing does not exist\n$/);
  });

  it.skipIf(UNPRIVILEGED_SKIP !== null && IS_ROOT)("an unwritable parent is a failure at run time (exit 1) with one line", () => {
    const parent = tempDir("cs-snap-");
    chmodSync(parent, 0o555);
    const run = IS_ROOT ? runCliAsNobody : (args: string[]) => runCli(args, { timeoutMs: LIMIT_MS });
    const r = run(["snapshot", join(parent, "out")]);
    expect(r.stderr).toMatch(/^clocksource: snapshot: cannot create .*out\.tmp-\d+: permission denied\n$/);
    expect(r.status).toBe(1);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe("snapshot staging directories", () => {
  /** A tree big enough that a copy takes a while (the snapshot's tree limit). */
  function bigSource(): string {
    const from = tempDir("cs-from-");
    const base = join(from, "sys/firmware/devicetree/base");
    for (let i = 0; i < 200; i++) {
      mkdirSync(join(base, `node${i}`), { recursive: true });
      for (let j = 0; j < 100; j++) writeFileSync(join(base, `node${i}`, `p${j}`), "x");
    }
    return from;
  }

  function stagingDirs(target: string): string[] {
    return readdirSync(dirname(target)).filter((n) => n.startsWith(`${basename(target)}.tmp-`));
  }

  it("a snapshot interrupted by SIGTERM or SIGINT removes its DIR.tmp-PID and dies of the signal", { timeout: 300_000 }, async () => {
    const from = bigSource();
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      let interrupted = false;
      for (let attempt = 0; attempt < 3 && !interrupted; attempt++) {
        const target = join(tempDir("cs-snap-"), "out");
        const child = spawn(process.execPath, [CLI_BIN, "snapshot", target, "--from", from], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on("exit", (code, sig) => done({ code, signal: sig })));
        const staging = `${target}.tmp-${child.pid}`;
        // Wait until the copy is under way (its staging directory is marked), then interrupt it.
        const deadline = Date.now() + LIMIT_MS;
        let running = true;
        void exited.then(() => (running = false));
        while (running && !existsSync(join(staging, STAGING_MARKER)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        if (running) child.kill(signal);
        const end = await exited;
        if (end.code === 0) continue; // finished before the signal arrived: try again
        interrupted = true;
        expect(end.signal).toBe(signal);
        expect(stderr).toMatch(new RegExp(`^clocksource: snapshot: interrupted by ${signal}; .*out not written\\n$`));
        expect(existsSync(target)).toBe(false);
        expect(stagingDirs(target)).toEqual([]);
      }
      expect(interrupted, `${signal}: every attempt finished before the signal arrived`).toBe(true);
    }
  });

  it("a later run removes the staging directories of killed runs, and only those", () => {
    const parent = tempDir("cs-snap-");
    const target = join(parent, "out");
    const dead = spawnSync("true").pid as number; // exited: its pid names no process
    const stale = `${target}.tmp-${dead}`;
    put(stale, STAGING_MARKER, `${dead}\n`);
    put(stale, "proc/cpuinfo", "half a copy");
    const notOurs = `${target}.tmp-${dead + 5000}`; // not the next pids, which the CLI itself may get
    put(notOurs, "a user's file", "keep");
    const alive = `${target}.tmp-${process.pid}`;
    put(alive, STAGING_MARKER, `${process.pid}\n`);
    const from = tempDir("cs-from-");
    put(from, "proc/cpuinfo", "vendor_id : GenuineIntel\n");
    const r = snapshot([target, "--from", from]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`clocksource: snapshot: removed ${stale}, left by a run that was killed\n`);
    expect(existsSync(stale)).toBe(false);
    expect(readFileSync(join(notOurs, "a user's file"), "utf8")).toBe("keep");
    expect(existsSync(join(alive, STAGING_MARKER))).toBe(true);
    expect(existsSync(join(target, STAGING_MARKER))).toBe(false);
    expect(readFileSync(join(target, "proc/cpuinfo"), "utf8")).toBe("vendor_id : GenuineIntel\n");
  });
});
