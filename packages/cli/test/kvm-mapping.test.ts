import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMappingFile, resolveMapping, mappingCodecRegistry } from "@clocksource/core";
import { kvmForward, kvmTscCodec, nativeReader } from "@clocksource/x86";
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

function setVcpu(root: string, vm: string, i: number, v: Vcpu): void {
  const d = join(root, "kvm", vm, `vcpu${i}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "guest_mode"), "0\n");
  writeFileSync(join(d, "lapic_timer_advance_ns"), "1000\n");
  writeFileSync(join(d, "tsc-offset"), `${v.offset}\n`);
  if (v.ratio !== undefined) writeFileSync(join(d, "tsc-scaling-ratio"), `${v.ratio}\n`);
  if (v.frac !== undefined) writeFileSync(join(d, "tsc-scaling-ratio-frac-bits"), `${v.frac}\n`);
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

  it("errors are one line and exit 2, and nothing is written", () => {
    const good = { offset: "0", ratio: VMX_ONE, frac: "48" };
    const root = debugfsTree({ "10-1": [good], "20-1": [{ ...good, offset: "12abc" }], "30-1": [{ ...good, ratio: "0x10" }], "40-1": [{ ...good, frac: "64" }], "50-1": [{ ...good, frac: undefined }], "60-1": [] });
    const out = join(tmp, "never.json");
    const cases: [string[], RegExp][] = [
      [["--pid", "11", "--debugfs", root], /no KVM VM of process 11 .*\(VMs there: 10-1, 20-1/],
      [["--pid", "10", "--debugfs", join(tmp, "no-such-dir")], /kvm: not present \(is debugfs mounted/],
      [["--pid", "20", "--debugfs", root, "--out", out], /vcpu0\/tsc-offset: malformed value/],
      [["--pid", "30", "--debugfs", root, "--out", out], /tsc-scaling-ratio: malformed value: expected a decimal integer/],
      [["--pid", "40", "--debugfs", root, "--out", out], /tsc-scaling-ratio-frac-bits: malformed value: 64 is above 63/],
      [["--pid", "50", "--debugfs", root, "--out", out], /tsc-scaling-ratio-frac-bits: not present/],
      [["--pid", "60", "--debugfs", root, "--out", out], /no vcpu<N> directories/],
      [["--pid", "x1", "--debugfs", root], /--pid must be a process id/],
      [["--debugfs", root], /--pid PID is required/],
      [["--pid", "10", "--debugfs", root, "--watch"], /--watch needs --out/],
      [["--pid", "10", "--debugfs", root, "--interval", "100"], /only for --watch/],
      [["--pid", "10", "--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(["kvm-mapping", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
    expect(existsSync(out)).toBe(false);
  });
});

const reader = nativeReader();
const hostTsc = reader.ok ? reader.counterReader() : null;
if (!hostTsc) console.warn(`skipping kvm-mapping --watch tests: native reader unavailable${reader.ok ? "" : `: ${reader.reason}`}`);

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
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
  it("appends an epoch when parameters change mid-watch, bounded in the guest domain, and stops cleanly on SIGTERM", async () => {
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
      expect(w.stderr()).toMatch(/epoch 1 appended/);
    } finally {
      w.child.kill("SIGTERM");
    }
    expect(await w.exited).toBe(0);
    const final = parseMappingFile(readFileSync(out, "utf8"));
    expect(final.epochs).toHaveLength(2);
    expect(final.epochs[1]?.lastObservedAt).not.toBeNull();
    expect(readdirSync(join(out, "..")).filter((f) => f.startsWith(".watch"))).toEqual([]);
  });

  it("a VM that vanishes mid-watch: one error line, exit 2, the file stays complete", async () => {
    const root = debugfsTree({ "654-3": [{ offset: "1", ratio: VMX_ONE, frac: "48" }] });
    const out = join(tmp, `vanish-${n++}.json`);
    const w = spawnWatch(["--pid", "654", "--debugfs", root, "--out", out, "--watch", "--interval", "30"]);
    await until("the first epoch", () => (epochsIn(out)?.length === 1 ? true : undefined));
    rmSync(join(root, "kvm", "654-3"), { recursive: true });
    const code = await Promise.race([w.exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 20_000))]);
    if (code === "timeout") w.child.kill("SIGKILL");
    expect(code).toBe(2);
    expect(w.stderr()).toMatch(/^clocksource: kvm-mapping: VM 654-3 can no longer be read .*holds the 1 epoch\(s\) seen\n$/);
    expect(epochsIn(out)).toHaveLength(1);
  });
});
