import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMappingFile, resolveMapping, mappingCodecRegistry } from "@clocksource/core";
import { kvmForward, kvmInverse, kvmTscCodec, nativeReader } from "@clocksource/x86";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kvm-mapping-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

interface Vcpu {
  offset: string;
  ratio?: string;
  frac?: string;
}

/**
 * A debugfs tree laid out as the kernel makes it: top-level KVM stats, one
 * directory per VM named <pid>-<fd> holding stats and vcpu<N>/ directories;
 * tsc-offset printed with %lld, the scaling files with %llu (absent without
 * TSC scaling). Other files are there too, as on a real host.
 */
function debugfsTree(vms: Record<string, Vcpu[]>): string {
  const root = join(tmp, `debugfs-${n++}`);
  mkdirSync(join(root, "kvm"), { recursive: true });
  writeFileSync(join(root, "kvm", "exits"), "123456\n");
  writeFileSync(join(root, "kvm", "halt_wakeup"), "42\n");
  for (const [vm, vcpus] of Object.entries(vms)) {
    const dir = join(root, "kvm", vm);
    mkdirSync(dir);
    writeFileSync(join(dir, "halt_exits"), "17\n");
    writeFileSync(join(dir, "pages_4k"), "1024\n");
    vcpus.forEach((v, i) => setVcpu(root, vm, i, v));
  }
  return root;
}

/** Writes a value whole, as a debugfs read sees it (a watcher polling the tree must never see a half-written file). */
function writeValue(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

function setVcpu(root: string, vm: string, i: number, v: Vcpu): void {
  const d = join(root, "kvm", vm, `vcpu${i}`);
  mkdirSync(d, { recursive: true });
  writeValue(join(d, "guest_mode"), "0\n");
  writeValue(join(d, "lapic_timer_advance_ns"), "1000\n");
  writeValue(join(d, "tsc-offset"), `${v.offset}\n`);
  if (v.ratio !== undefined) writeValue(join(d, "tsc-scaling-ratio"), `${v.ratio}\n`);
  if (v.frac !== undefined) writeValue(join(d, "tsc-scaling-ratio-frac-bits"), `${v.frac}\n`);
}

const VMX_ONE = (1n << 48n).toString();
const registry = mappingCodecRegistry([kvmTscCodec]);

describe("clocksource kvm-mapping (subprocess, debugfs tree in a temp dir)", () => {
  it("reads every vCPU of the VM and writes a kvm-x86-tsc mapping to stdout", () => {
    const root = debugfsTree({
      "4242-11": [
        { offset: "-1234567890123", ratio: "281481736234567", frac: "48" },
        { offset: "-1234567890555", ratio: "281481736234567", frac: "48" },
      ],
      "99-3": [{ offset: "5", ratio: VMX_ONE, frac: "48" }],
    });
    const r = runCli(["kvm-mapping", "--pid", "4242", "--debugfs", root]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const file = parseMappingFile(r.stdout);
    expect(file).toMatchObject({ kind: "kvm-x86-tsc", from: "guest.tsc", to: "host.tsc", exact: true, errorBound: 0n, origin: { pid: 4242, vm: "4242-11", debugfs: root } });
    expect(file.epochs).toHaveLength(1);
    const vcpus = file.epochs[0]?.vcpus;
    expect(vcpus?.get(0)).toEqual({ tscOffset: "-1234567890123", tscScalingRatio: "281481736234567", fracBits: 48 });
    expect(vcpus?.get(1)).toEqual({ tscOffset: "-1234567890555", tscScalingRatio: "281481736234567", fracBits: 48 });
    // the vCPUs differ: a converter must be told which
    expect(() => resolveMapping(file, registry)).toThrow(/--vcpu/);
    const m = resolveMapping(file, registry, { vcpu: 1 });
    const p = { offset: -1234567890555n, ratio: 281481736234567n, fracBits: 48 };
    expect(m.inverse(10_000_000_000_000n).value).toBe(kvmForward(10_000_000_000_000n, p));
  });

  it("AMD (frac 32) and hosts without TSC scaling (no ratio files: unscaled)", () => {
    const root = debugfsTree({
      "700-20": [{ offset: "1000", ratio: (3n << 31n).toString(), frac: "32" }],
      "800-21": [{ offset: "-77" }, { offset: "-77" }],
    });
    const amd = parseMappingFile(runCli(["kvm-mapping", "--pid", "700", "--debugfs", root]).stdout);
    expect(amd.epochs[0]?.vcpus?.get(0)).toEqual({ tscOffset: "1000", tscScalingRatio: (3n << 31n).toString(), fracBits: 32 });
    const plain = runCli(["kvm-mapping", "--pid", "800", "--debugfs", root]);
    expect(plain.status).toBe(0);
    const file = parseMappingFile(plain.stdout);
    expect(JSON.stringify(file.origin)).toMatch(/no TSC scaling/);
    // identical vCPUs: no --vcpu needed; unscaled = pure offset
    expect(resolveMapping(file, registry).forward(1077n).value).toBe(1154n);
  });

  it("--out writes atomically and leaves no temporary file", () => {
    const root = debugfsTree({ "55-9": [{ offset: "0", ratio: VMX_ONE, frac: "48" }] });
    const dir = join(tmp, `out-${n++}`);
    mkdirSync(dir);
    const out = join(dir, "map.json");
    const r = runCli(["kvm-mapping", "--pid", "55", "--debugfs", root, "--out", out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    expect(parseMappingFile(readFileSync(out, "utf8")).epochs).toHaveLength(1);
    expect(readdirSync(dir)).toEqual(["map.json"]);
  });

  it("errors are one line: exit 2 for the command line, 1 for what it finds at run time; nothing is written", { timeout: 180_000 }, () => {
    const good = { offset: "0", ratio: VMX_ONE, frac: "48" };
    const root = debugfsTree({ "10-1": [good], "20-1": [{ ...good, offset: "12abc" }], "30-1": [{ ...good, ratio: "0x10" }], "40-1": [{ ...good, frac: "64" }], "50-1": [{ ...good, frac: undefined }], "60-1": [] });
    const out = join(tmp, "never.json");
    const cases: [string[], number, RegExp][] = [
      [["--pid", "11", "--debugfs", root], 1, /no KVM VM of process 11 .*\(VMs there: 10-1, 20-1/],
      [["--pid", "10", "--debugfs", join(tmp, "no-such-dir")], 1, /kvm: not present \(is debugfs mounted/],
      [["--pid", "20", "--debugfs", root, "--out", out], 1, /vcpu0\/tsc-offset: malformed value/],
      [["--pid", "30", "--debugfs", root, "--out", out], 1, /tsc-scaling-ratio: malformed value: expected an unsigned decimal integer/],
      [["--pid", "40", "--debugfs", root, "--out", out], 1, /tsc-scaling-ratio-frac-bits: malformed value: 64 is above 63/],
      [["--pid", "50", "--debugfs", root, "--out", out], 1, /tsc-scaling-ratio-frac-bits: not present/],
      [["--pid", "60", "--debugfs", root, "--out", out], 1, /no vcpu<N> directories/],
      [["--pid", "x1", "--debugfs", root], 2, /--pid must be a process id/],
      [["--debugfs", root], 2, /--pid PID \(or --vm PID-FD\) is required/],
      [["--pid", "10", "--debugfs", root, "--watch"], 2, /--watch needs --out/],
      [["--pid", "10", "--debugfs", root, "--interval", "100"], 2, /only for --watch/],
      [["--pid", "10", "--debugfs", root, "--watch", "--out", out, "--interval", "1e3"], 2, /--interval must be 10\.\.3600000/],
      [["--pid", "10", "--bogus"], 2, /Unknown option '--bogus'/],
      [["--pid", "10", "--debugfs", root, "--out", ""], 2, /--out needs a file name/],
    ];
    for (const [args, status, re] of cases) {
      const r = runCli(["kvm-mapping", ...args]);
      expect(r.status, args.join(" ")).toBe(status);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
    expect(existsSync(out)).toBe(false);
  });
});

describe("clocksource kvm-mapping --out: files it writes (subprocess)", () => {
  const good = { offset: "-77", ratio: VMX_ONE, frac: "48" };
  const root = debugfsTree({ "77-5": [good] });
  const args = ["kvm-mapping", "--pid", "77", "--debugfs", root];

  it("--out /dev/null leaves /dev/null the same character device", { timeout: 30_000 }, () => {
    const before = lstatSync("/dev/null");
    const r = runCli([...args, "--out", "/dev/null"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    const after = lstatSync("/dev/null");
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.ino, after.rdev]).toEqual([before.ino, before.rdev]);
    expect(readdirSync("/dev").filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("--out - and --out /dev/stdout print the file to stdout; /dev/stdout stays a link", { timeout: 30_000 }, () => {
    for (const name of ["-", "/dev/stdout"]) {
      const r = runCli([...args, "--out", name]);
      expect(r.status, r.stderr).toBe(0);
      expect(parseMappingFile(r.stdout).epochs[0]?.vcpus?.get(0)).toEqual({ tscOffset: "-77", tscScalingRatio: VMX_ONE, fracBits: 48 });
    }
    expect(lstatSync("/dev/stdout").isSymbolicLink()).toBe(true);
  });

  it("--out LINK replaces the link's target and keeps the link (as documented)", { timeout: 30_000 }, () => {
    const dir = join(tmp, `link-${n++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "v1.json"), "old");
    symlinkSync("v1.json", join(dir, "current.json"));
    const r = runCli([...args, "--out", join(dir, "current.json")]);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(join(dir, "current.json")).isSymbolicLink()).toBe(true);
    expect(parseMappingFile(readFileSync(join(dir, "v1.json"), "utf8")).kind).toBe("kvm-x86-tsc");
    expect(readdirSync(dir).sort()).toEqual(["current.json", "v1.json"]);
  });

  it("--out FIFO, directory or /dev/zero: one line, exit 1, at once, the node untouched", { timeout: 30_000 }, () => {
    const fifo = join(tmp, `fifo-${n++}`);
    const made = spawnSync("mkfifo", [fifo]).status === 0;
    const targets = [...(made ? [fifo] : []), tmp, "/dev/zero"];
    if (!made) console.warn("skipping the FIFO target: mkfifo failed");
    for (const target of targets) {
      const r = runCli([...args, "--out", target], { timeoutMs: 10_000 });
      expect(r.status, `${target}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^clocksource: refusing to write mapping file .*: it is (a FIFO|a directory|a character device)/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    if (made) expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync("/dev/zero").isCharacterDevice()).toBe(true);
  });

  it("--watch refuses stdout and devices as --out (it rewrites the file)", () => {
    for (const target of ["-", "/dev/stdout", "/dev/null"]) {
      const r = runCli([...args, "--watch", "--out", target]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--watch rewrites --out on every change, so it must name a regular file/);
    }
  });
});

describe("clocksource kvm-mapping: debugfs values and VMs (subprocess)", () => {
  const good = { offset: "5", ratio: VMX_ONE, frac: "48" };

  it("a value longer than the read cap is an error, not cut and read as another number", () => {
    const root = debugfsTree({ "90-1": [good] });
    // "5" then padding: cut at 64 bytes it would read as 5; the file says something else entirely
    writeFileSync(join(root, "kvm/90-1/vcpu0/tsc-offset"), `5${" ".repeat(70)}9\n`);
    const r = runCli(["kvm-mapping", "--pid", "90", "--debugfs", root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^clocksource: KVM debugfs value .*vcpu0\/tsc-offset is larger than 64 bytes\n$/);
    // and the kernel's own format is required: no padding, no sign, no leading zeros
    for (const bad of [" 5\n", "+5\n", "05\n", "5\n\n"]) {
      writeFileSync(join(root, "kvm/90-1/vcpu0/tsc-offset"), bad);
      const b = runCli(["kvm-mapping", "--pid", "90", "--debugfs", root]);
      expect(b.status, JSON.stringify(bad)).toBe(1);
      expect(b.stderr).toMatch(/tsc-offset: malformed value/);
    }
  });

  it("a FIFO or a directory as a debugfs value: one line, exit 1, never a hang", { timeout: 30_000 }, () => {
    const root = debugfsTree({ "91-1": [good] });
    const value = join(root, "kvm/91-1/vcpu0/tsc-scaling-ratio");
    rmSync(value);
    if (spawnSync("mkfifo", [value]).status !== 0) {
      console.warn("skipping the FIFO debugfs value: mkfifo failed");
      return;
    }
    const r = runCli(["kvm-mapping", "--pid", "91", "--debugfs", root], { timeoutMs: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^clocksource: KVM debugfs value .*tsc-scaling-ratio is a FIFO, not a regular file\n$/);
    rmSync(value);
    mkdirSync(value);
    const d = runCli(["kvm-mapping", "--pid", "91", "--debugfs", root], { timeoutMs: 10_000 });
    expect(d.status).toBe(1);
    expect(d.stderr).toMatch(/tsc-scaling-ratio is a directory, not a regular file/);
  });

  it("vcpu99999999999999999999 is reported as what it is", () => {
    const root = debugfsTree({ "92-1": [good] });
    mkdirSync(join(root, "kvm/92-1/vcpu99999999999999999999"));
    const r = runCli(["kvm-mapping", "--pid", "92", "--debugfs", root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/vcpu99999999999999999999: malformed value: not a vCPU index this tool can record \(0\.\.999999\): "vcpu99999999999999999999"/);
    expect(r.stderr).not.toMatch(/1e\+?20|100000000000000000000/);
  });

  it("several VMs in one process: --pid lists them, --vm PID-FD chooses one", () => {
    const root = debugfsTree({ "93-10": [{ ...good, offset: "10" }], "93-11": [{ ...good, offset: "11" }, { ...good, offset: "11" }], "94-1": [good] });
    const both = runCli(["kvm-mapping", "--pid", "93", "--debugfs", root]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/process 93 runs several KVM VMs under .*: 93-10, 93-11 \(choose one with --vm PID-FD\)/);
    for (const [vmArgs, offset] of [[["--vm", "93-11"], "11"], [["--pid", "93", "--vm", "93-10"], "10"]] as const) {
      const r = runCli(["kvm-mapping", ...vmArgs, "--debugfs", root]);
      expect(r.status, r.stderr).toBe(0);
      const file = parseMappingFile(r.stdout);
      expect(file.origin).toMatchObject({ pid: 93, vm: vmArgs[vmArgs.length - 1] });
      expect((file.epochs[0]?.vcpus?.get(0) as { tscOffset?: string } | undefined)?.tscOffset).toBe(offset);
    }
    const wrongPid = runCli(["kvm-mapping", "--pid", "94", "--vm", "93-10", "--debugfs", root]);
    expect(wrongPid.status).toBe(2);
    expect(wrongPid.stderr).toMatch(/--vm 93-10 is not a VM of --pid 94/);
    const badName = runCli(["kvm-mapping", "--vm", "93", "--debugfs", root]);
    expect(badName.status).toBe(2);
    expect(badName.stderr).toMatch(/--vm must be a VM directory name <pid>-<fd>/);
    const missing = runCli(["kvm-mapping", "--vm", "93-12", "--debugfs", root]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no KVM VM 93-12 under .*\(VMs there: 93-10, 93-11, 94-1\)/);
  });
});

const reader = nativeReader();
const hostTsc = reader.ok ? reader.counterReader() : null;
if (!hostTsc) console.warn(`skipping kvm-mapping --watch tests: native reader unavailable${reader.ok ? "" : `: ${reader.reason}`}`);

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 60_000, context: () => string = () => ""): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${context() ? `: ${context()}` : ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function epochsIn(path: string) {
  try {
    return parseMappingFile(readFileSync(path, "utf8")).epochs;
  } catch {
    return undefined;
  }
}

function spawnWatch(args: string[]) {
  const child = spawn(process.execPath, [CLI_BIN, "kvm-mapping", ...args], { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

describe.skipIf(!hostTsc)("clocksource kvm-mapping --watch", () => {
  it("appends an epoch when parameters change mid-watch, bounded in the guest domain, and stops cleanly on SIGTERM", { timeout: 180_000 }, async () => {
    const p0 = { offset: "-5000000000", ratio: VMX_ONE, frac: "48" };
    const root = debugfsTree({ "321-7": [p0, p0] });
    const out = join(tmp, `watch-${n++}.json`);
    const w = spawnWatch(["--pid", "321", "--debugfs", root, "--out", out, "--watch", "--interval", "50"]);
    try {
      await until("the first epoch", () => (epochsIn(out)?.length === 1 ? true : undefined));
      const before = (hostTsc as () => bigint)();
      // resume after a pause: the VMM rewrites every vCPU's offset (here the guest TSC jumps ahead by 4e9 ticks)
      const p1 = { offset: "-1000000000", ratio: VMX_ONE, frac: "48" };
      setVcpu(root, "321-7", 0, p1);
      setVcpu(root, "321-7", 1, p1);
      const epochs = await until("the second epoch", () => {
        const e = epochsIn(out);
        return e && e.length === 2 ? e : undefined;
      });
      const after = (hostTsc as () => bigint)();
      const [e0, e1] = epochs;
      const fwd = (h: bigint, off: bigint) => BigInt.asUintN(64, h + off);
      // the new parameters took effect between the two host TSC reads around the change
      expect(e1?.validFrom).not.toBeNull();
      expect(e1?.validFrom as bigint).toBeLessThanOrEqual(fwd(after, -1000000000n));
      expect(e0?.validUntil as bigint).toBeGreaterThan(fwd(before, -5000000000n));
      expect(e0?.validUntil as bigint).toBeLessThanOrEqual(fwd(after, -5000000000n) + 1n);
      // the switch window's guest-domain image covers both epochs' ends
      expect(e1?.boundary?.sourceFrom as bigint).toBeLessThanOrEqual(e1?.validFrom as bigint);
      expect(e1?.boundary?.sourceUntil as bigint).toBeGreaterThanOrEqual(e0?.validUntil as bigint);
      expect(Date.parse(e1?.boundary?.notAfter as string)).toBeGreaterThanOrEqual(Date.parse(e1?.boundary?.notBefore as string));
      expect(e1?.vcpus?.get(0)).toEqual({ tscOffset: "-1000000000", tscScalingRatio: VMX_ONE, fracBits: 48 });
      // convert picks the epoch from the guest value: an old-epoch value maps with the old offset
      const file = parseMappingFile(readFileSync(out, "utf8"));
      const m = resolveMapping(file, registry);
      const oldGuest = fwd(before, -5000000000n) - 1_000_000n;
      expect(m.forward(oldGuest)).toMatchObject({ epoch: 0, value: before - 1_000_000n, ambiguous: false });
      const newGuest = fwd(after, -1000000000n) + 1_000_000_000n;
      expect(m.forward(newGuest)).toMatchObject({ epoch: 1, value: after + 1_000_000_000n, ambiguous: false });
      // the note follows the write: wait for it rather than race it
      await until("the note on stderr", () => (/epoch 1 appended/.test(w.stderr()) ? true : undefined));
    } finally {
      w.child.kill("SIGTERM");
    }
    expect(await w.exited).toBe(0);
    const final = parseMappingFile(readFileSync(out, "utf8"));
    expect(final.epochs).toHaveLength(2);
    expect(final.epochs[1]?.lastObservedAt).not.toBeNull();
    expect(readdirSync(join(out, "..")).filter((f) => f.startsWith(".watch"))).toEqual([]);
  });

  it("survives a guest TSC wrapping 2^64 inside an epoch: the epoch becomes two ranges, later switches still append", { timeout: 240_000 }, async () => {
    const tsc = hostTsc as () => bigint;
    const t0 = tsc();
    await new Promise((r) => setTimeout(r, 200));
    const rate = (tsc() - t0) * 5n; // host TSC ticks per second, roughly
    const root = debugfsTree({ "432-1": [{ offset: "0", ratio: VMX_ONE, frac: "48" }] });
    const out = join(tmp, `wrap-${n++}.json`);
    const w = spawnWatch(["--pid", "432", "--debugfs", root, "--out", out, "--watch", "--interval", "30"]);
    const U = 1n << 64n;
    try {
      await until("the first epoch", () => (epochsIn(out)?.length === 1 ? true : undefined));
      // the guest writes its TSC to just below 2^64 (KVM turns that into a new offset): it wraps about a second later
      const h = tsc();
      const wrapAt = h + rate;
      const wrapOffset = -wrapAt;
      setVcpu(root, "432-1", 0, { offset: wrapOffset.toString(), ratio: VMX_ONE, frac: "48" });
      const split = await until("the wrapped epoch written as two ranges", () => {
        const e = epochsIn(out);
        return e && e.length === 3 && e[2]?.validFrom === null ? e : undefined;
      });
      expect(tsc()).toBeGreaterThan(wrapAt);
      const [, pre, post] = split;
      // before the wrap: [S, 2^64) with S where the new parameters began; after: [0, S)
      expect(pre?.validFrom as bigint).toBeGreaterThanOrEqual(U - rate - (tsc() - h));
      expect(pre?.validUntil).toBeNull();
      expect(post?.validUntil).toBe(pre?.validFrom);
      expect(post?.vcpus).toEqual(pre?.vcpus);
      expect(pre?.boundary).not.toBeNull();
      expect(post?.boundary).toBeNull();
      expect(w.stderr()).toMatch(/the guest TSC wrapped past 2\^64|parameters changed/);
      // the guest writes its TSC again: the watch must still be running and append
      setVcpu(root, "432-1", 0, { offset: (10n ** 12n - tsc()).toString(), ratio: VMX_ONE, frac: "48" });
      const epochs = await until(
        "the epoch after the wrap",
        () => {
          const e = epochsIn(out);
          return e && e.length === 4 ? e : undefined;
        },
        60_000,
        () => `watch exit ${w.child.exitCode}, stderr ${JSON.stringify(w.stderr())}, file epochs ${epochsIn(out)?.length}`,
      );
      expect(epochs[2]?.validUntil).not.toBeNull(); // the part after the wrap is closed by the switch
      expect(epochs[2]?.validUntil as bigint).toBeLessThanOrEqual(pre?.validFrom as bigint);
      expect(epochs[3]?.boundary).not.toBeNull();
      expect(w.child.exitCode).toBeNull();
      const file = parseMappingFile(readFileSync(out, "utf8"));
      const params = { offset: wrapOffset, ratio: 1n << 48n, fracBits: 48 };
      // a value from after the wrap converts with the wrapped epoch's parameters (the first epoch,
      // open below, also claims small values: ambiguous, as any repeated guest value is)
      const m = resolveMapping(file, registry);
      expect(m.forward(5n)).toMatchObject({ value: wrapAt + 5n, epoch: 2 });
      expect(kvmInverse(5n, params)).toBe(wrapAt + 5n);
      // one from before the wrap, through its own epoch
      expect(resolveMapping(file, registry, { epoch: 1 }).forward(U - 10n).value).toBe(wrapAt - 10n);
    } finally {
      w.child.kill("SIGTERM");
    }
    expect(await w.exited).toBe(0);
    expect(parseMappingFile(readFileSync(out, "utf8")).epochs).toHaveLength(4);
  });

  it("a VM that vanishes mid-watch: one error line, exit 1, the file stays complete", { timeout: 180_000 }, async () => {
    const root = debugfsTree({ "654-3": [{ offset: "1", ratio: VMX_ONE, frac: "48" }] });
    const out = join(tmp, `vanish-${n++}.json`);
    const w = spawnWatch(["--pid", "654", "--debugfs", root, "--out", out, "--watch", "--interval", "30"]);
    await until("the first epoch", () => (epochsIn(out)?.length === 1 ? true : undefined));
    rmSync(join(root, "kvm", "654-3"), { recursive: true });
    const code = await Promise.race([w.exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 20_000))]);
    if (code === "timeout") w.child.kill("SIGKILL");
    expect(code).toBe(1);
    expect(w.stderr()).toMatch(/^clocksource: kvm-mapping: VM 654-3 can no longer be read .*holds the 1 epoch\(s\) seen\n$/);
    expect(epochsIn(out)).toHaveLength(1);
  });
});
