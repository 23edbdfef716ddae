/**
 * A real KVM guest in the test suite (issue 14): a guest program run through
 * the KVM API (test/kvm/kvm-guest-harness.c) stores its TSC around a `cpuid`
 * (handled in the host kernel) and a port write (an exit to user space); the
 * host traces the same run in a tracefs instance of its own with the x86-tsc
 * clock; `clocksource kvm-mapping --watch` reads the live debugfs meanwhile;
 * `clocksource merge` maps the guest's timestamps onto the host's TSC. Then,
 * for every loop: guest TSC before cpuid < host kvm_cpuid < guest TSC after;
 * guest TSC before the port write < host kvm_pio; host re-entry (the next
 * KVM_RUN's FPU load, or kvm_entry) < guest TSC after the write.
 *
 * Runs where /dev/kvm is usable, the test is root, tracefs has the kvm events,
 * and gcc and trace-cmd are installed; skips with one line naming what is
 * missing elsewhere. Leaves no tracefs instance, VM or process behind.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_BIN } from "./support/run-cli.js";

const TRACEFS = "/sys/kernel/tracing";
const HARNESS_SRC = join(import.meta.dirname, "kvm", "kvm-guest-harness.c");
const LOOPS = 2000;
const HOST_EVENTS = ["kvm_pio", "kvm_cpuid", "kvm_userspace_exit", "kvm_fpu", "kvm_write_tsc_offset", "kvm_entry", "kvm_exit"];

const work = mkdtempSync(join(tmpdir(), "clocksource-kvm-"));
const instance = `clocksource-kvm-${process.pid}`;
const instanceDir = join(TRACEFS, "instances", instance);
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (existsSync(instanceDir)) {
    try {
      writeFileSync(join(instanceDir, "tracing_on"), "0");
    } catch {
      // gone already
    }
    try {
      rmdirSync(instanceDir);
    } catch {
      // trace-cmd may have removed it
    }
  }
}
afterAll(() => {
  cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Why this test cannot run here, or null when it can. */
function unsupported(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "needs root (KVM debugfs, tracefs instances)";
  if (!existsSync("/dev/kvm")) return "/dev/kvm does not exist (no KVM on this machine)";
  if (!existsSync(join(TRACEFS, "instances"))) return `${TRACEFS} is not mounted`;
  if (!existsSync(join(TRACEFS, "events", "kvm", "kvm_pio"))) return "the kernel has no kvm tracepoints";
  if (!existsSync("/sys/kernel/debug/kvm")) return "KVM debugfs is not mounted at /sys/kernel/debug";
  for (const tool of ["gcc", "trace-cmd", "unshare"]) if (spawnSync(tool, ["--version"], { timeout: 10_000 }).error) return `${tool} is not installed`;
  return null;
}

const reason = unsupported();
if (reason) console.log(`[kvm-guest] skipped: ${reason}`);

function must(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 1 << 28 });
  if (r.error || r.status !== 0) throw new Error(`${what}: ${r.error?.message ?? `exit ${r.status}`}: ${(r.stderr ?? "").slice(0, 1500)}`);
  return r.stdout;
}

interface HarnessRun {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
}

/** Runs the harness; `onReady` is called with its pid once the VM exists. */
function runHarness(bin: string, args: string[], onReady: (pid: number) => void): Promise<HarnessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    let err = "";
    let ready = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      const m = /ready pid=(\d+)/.exec(err);
      if (m && !ready) {
        ready = true;
        onReady(Number(m[1]));
      }
    });
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ pid: child.pid ?? -1, stdout: out, stderr: err, status });
    });
  });
}

function setupInstance(): void {
  mkdirSync(instanceDir);
  writeFileSync(join(instanceDir, "tracing_on"), "0");
  writeFileSync(join(instanceDir, "trace_clock"), "x86-tsc");
  writeFileSync(join(instanceDir, "buffer_size_kb"), "16384");
  for (const e of HOST_EVENTS) {
    const p = join(instanceDir, "events", "kvm", e, "enable");
    if (existsSync(p)) writeFileSync(p, "1");
  }
  writeFileSync(join(instanceDir, "tracing_on"), "1");
}

/** trace-cmd extract of the instance, with the instance's clock recorded as the file's (trace-cmd 3.1 records the top level's). */
function extract(out: string): void {
  must("unshare", ["-m", "sh", "-c", `mount --bind '${instanceDir}/trace_clock' '${TRACEFS}/trace_clock' && trace-cmd extract -B '${instance}' -o '${out}'`], "trace-cmd extract");
}

interface Merged {
  machine: string;
  ts: string;
  raw_ts: string;
  cpu: number;
  tid: number;
  event: string;
  fields: Record<string, unknown>;
  flags: string[];
}

function quantiles(xs: bigint[]): { min: bigint; median: bigint; max: bigint } {
  const s = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { min: s[0] as bigint, median: s[s.length >> 1] as bigint, max: s[s.length - 1] as bigint };
}

describe.skipIf(reason !== null)("a real KVM guest, traced from the host, mapped and merged", () => {
  it("keeps every guest timestamp between the host events that bracket it", async () => {
    const bin = join(work, "kvm-guest-harness");
    must("gcc", ["-O2", "-Wall", "-pthread", "-o", bin, HARNESS_SRC], "building the guest harness");
    const mapping = join(work, "vm1.mapping.json");
    setupInstance();
    let watch: ChildProcess | undefined;
    let watchErr = "";
    const run = await runHarness(bin, ["--loops", String(LOOPS), "--settle-ms", "400", "--linger-ms", "600"], (pid) => {
      watch = spawn(process.execPath, [CLI_BIN, "kvm-mapping", "--pid", String(pid), "--watch", "--interval", "20", "--out", mapping], { stdio: ["ignore", "ignore", "pipe"] });
      children.push(watch);
      watch.stderr?.setEncoding("utf8").on("data", (d: string) => (watchErr += d));
    });
    writeFileSync(join(instanceDir, "tracing_on"), "0");
    if (run.status === 3) {
      console.log(`[kvm-guest] skipped: ${run.stderr.trim()}`);
      cleanup();
      return;
    }
    expect(run.status, run.stderr).toBe(0);
    expect(watch, "the harness never said the VM was ready").toBeDefined();
    // Stop the watcher while the VM still exists; it leaves a complete file.
    await new Promise<void>((resolve) => {
      const w = watch as ChildProcess;
      if (w.exitCode !== null) return resolve();
      w.on("close", () => resolve());
      w.kill("SIGTERM");
    });
    expect(existsSync(mapping), `kvm-mapping --watch wrote nothing: ${watchErr}`).toBe(true);
    const host = join(work, "host.dat");
    extract(host);
    const hostText = join(work, "host.txt");
    writeFileSync(hostText, must("trace-cmd", ["report", "--raw-ts", "-R", host], "trace-cmd report"));
    cleanup();
    const guest = join(work, "vm1.jsonl");
    writeFileSync(guest, run.stdout);
    const tids = new Map<number, number>();
    for (const m of run.stderr.matchAll(/vcpu (\d+) tid=(\d+)/g)) tids.set(Number(m[1]), Number(m[2]));
    expect(tids.size).toBe(1);

    const merged = join(work, "merged.jsonl");
    const r = spawnSync(process.execPath, [CLI_BIN, "merge", `host=${host}`, `vm1=${guest}`, "--mapping", `vm1=${mapping}`, "--vm-pid", `vm1=${run.pid}`, "-f", "jsonl", "-o", merged], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    console.log(`[kvm-guest] merge summary:\n${r.stderr}`);
    const events = readFileSync(merged, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Merged);

    // The host side of the harness's vCPU thread, in order; the guest side by (point, seq).
    const vcpuTid = tids.get(0) as number;
    const hostOf = (name: string, pred: (e: Merged) => boolean = () => true) => events.filter((e) => e.machine === "host" && e.tid === vcpuTid && e.event === name && pred(e)).map((e) => BigInt(e.ts));
    const cpuid = hostOf("kvm:kvm_cpuid");
    const pio = hostOf("kvm:kvm_pio");
    const entry = hostOf("kvm:kvm_entry");
    const reentry = entry.length > 0 ? entry : hostOf("kvm:kvm_fpu", (e) => String(e.fields.load) === "1" || e.fields.load === true);
    const guestAt = new Map<string, bigint>();
    for (const e of events) if (e.machine === "vm1") guestAt.set(`${e.event}:${String(e.fields.seq)}`, BigInt(e.ts));
    expect(cpuid.length, "one kvm_cpuid per loop").toBe(LOOPS + 1);
    expect(pio.length, "one kvm_pio per loop").toBe(LOOPS + 1);

    const slack = { cpuidAfterGuest: [] as bigint[], guestAfterCpuid: [] as bigint[], pioAfterGuest: [] as bigint[], guestAfterReentry: [] as bigint[] };
    const violations: string[] = [];
    for (let k = 0; k <= LOOPS; k++) {
      const before = guestAt.get(`guest:tsc_before_cpuid:${k}`) as bigint;
      const after = guestAt.get(`guest:tsc_after_cpuid:${k}`) as bigint;
      const c = cpuid[k] as bigint;
      const p = pio[k] as bigint;
      if (!(before < c)) violations.push(`loop ${k}: guest before cpuid ${before} ≥ host kvm_cpuid ${c}`);
      if (!(c < after)) violations.push(`loop ${k}: host kvm_cpuid ${c} ≥ guest after cpuid ${after}`);
      if (!(after < p)) violations.push(`loop ${k}: guest before out ${after} ≥ host kvm_pio ${p}`);
      slack.cpuidAfterGuest.push(c - before);
      slack.guestAfterCpuid.push(after - c);
      slack.pioAfterGuest.push(p - after);
      if (k < LOOPS) {
        const afterOut = guestAt.get(`guest:tsc_after_out:${k}`) as bigint;
        // The re-entry that resumed loop k: the first one after its port exit.
        const re = reentry.find((t) => t > p);
        if (re === undefined || !(re < afterOut)) violations.push(`loop ${k}: host re-entry ${re} not before guest after out ${afterOut}`);
        else slack.guestAfterReentry.push(afterOut - re);
      }
    }
    const hz = Number(readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/)?.[1] ?? "0") * 1e6;
    const ns = (t: bigint) => (hz > 0 ? `${Math.round((Number(t) * 1e9) / hz)} ns` : `${t} ticks`);
    for (const [k, v] of Object.entries(slack)) {
      if (v.length === 0) continue;
      const q = quantiles(v);
      console.log(`[kvm-guest] slack ${k}: min ${ns(q.min)}, median ${ns(q.median)}, max ${ns(q.max)} (${v.length} loops)`);
    }
    expect(violations.slice(0, 5), `${violations.length} causality violations`).toEqual([]);
  }, 90_000);
});
