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
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractInstances, removeInstance, TRACEFS } from "../packages/trace/test/support/tracefs-record.js";
import { CLI_BIN } from "./support/run-cli.js";

const HARNESS_SRC = join(import.meta.dirname, "kvm", "kvm-guest-harness.c");
const LOOPS = 2000;
const HOST_EVENTS = ["kvm_pio", "kvm_cpuid", "kvm_userspace_exit", "kvm_fpu", "kvm_write_tsc_offset", "kvm_entry", "kvm_exit"];

const instance = `clocksource-kvm-${process.pid}`;
const instanceDir = join(TRACEFS, "instances", instance);
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  removeInstance(instanceDir);
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
// Made only where the test runs: a file whose tests are all skipped runs no afterAll to remove it.
const work = reason ? join(tmpdir(), "clocksource-kvm-not-made") : mkdtempSync(join(tmpdir(), "clocksource-kvm-"));

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
  /** The mapping file kvm-mapping --watch wrote while the VM ran, and what it said. */
  readonly mapping: string;
  readonly watchStderr: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

/**
 * Runs the harness held (--hold): once its VM exists, `kvm-mapping --watch` starts on it; the guest
 * runs once the watcher has written its first epoch; the watcher stops after the guest is done, while
 * the VM still exists; then the harness closes the VM.
 */
async function runHarness(bin: string, args: string[], mapping: string): Promise<HarnessRun> {
  const child = spawn(bin, [...args, "--hold"], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  let watchErr = "";
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const ready = await waitFor(() => /ready pid=\d+/.test(err) || child.exitCode !== null, 20_000);
  if (!ready || child.exitCode !== null) {
    child.stdin.end();
    const status = await closed;
    clearTimeout(killer);
    return { pid: child.pid ?? -1, stdout: out, stderr: err, status, mapping, watchStderr: watchErr };
  }
  const pid = Number(/ready pid=(\d+)/.exec(err)?.[1]);
  const watch = spawn(process.execPath, [CLI_BIN, "kvm-mapping", "--pid", String(pid), "--watch", "--interval", "20", "--out", mapping], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(watch);
  watch.stderr?.setEncoding("utf8").on("data", (d: string) => (watchErr += d));
  const watchClosed = new Promise<void>((resolve) => watch.on("close", () => resolve()));
  await waitFor(() => existsSync(mapping) || watch.exitCode !== null, 20_000);
  child.stdin.write("go\n");
  await waitFor(() => /^done$/m.test(err) || child.exitCode !== null, 45_000);
  await sleep(200); // a few more polls: the watcher sees the VM as it ended
  watch.kill("SIGTERM");
  await watchClosed;
  child.stdin.end();
  const status = await closed;
  clearTimeout(killer);
  return { pid, stdout: out, stderr: err, status, mapping, watchStderr: watchErr };
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

/** trace-cmd extract of the instance (its clock named as the file's, the machine's global buffer left alone). */
function extract(out: string): void {
  const scratch = mkdtempSync(join(work, "extract-"));
  extractInstances([instance], out, scratch);
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

interface Experiment {
  readonly run: HarnessRun;
  readonly host: string;
  readonly guest: string;
  readonly tid: number;
}

let experimentCount = 0;

/** Records the host side of one harness run and writes the host trace.dat and the guest JSON lines. */
async function experiment(bin: string, args: string[]): Promise<Experiment | null> {
  const n = ++experimentCount;
  const mapping = join(work, `vm1-${n}.mapping.json`);
  setupInstance();
  try {
    const run = await runHarness(bin, args, mapping);
    writeFileSync(join(instanceDir, "tracing_on"), "0");
    if (run.status === 3) {
      console.log(`[kvm-guest] skipped: ${run.stderr.trim()}`);
      return null;
    }
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(mapping), `kvm-mapping --watch wrote nothing: ${run.watchStderr}`).toBe(true);
    const host = join(work, `host-${n}.dat`);
    extract(host);
    writeFileSync(join(work, `host-${n}.txt`), must("trace-cmd", ["report", "--raw-ts", "-R", host], "trace-cmd report"));
    const guest = join(work, `vm1-${n}.jsonl`);
    writeFileSync(guest, run.stdout);
    const tid = Number(/vcpu 0 tid=(\d+)/.exec(run.stderr)?.[1]);
    expect(tid > 0, "the harness named its vCPU thread").toBe(true);
    return { run, host, guest, tid };
  } finally {
    cleanup();
  }
}

function merge(x: Experiment, extra: string[] = [], out = join(work, `merged-${++experimentCount}.jsonl`)): { status: number | null; stderr: string; events: Merged[] } {
  const r = spawnSync(process.execPath, [CLI_BIN, "merge", `host=${x.host}`, `vm1=${x.guest}`, "--vm-pid", `vm1=${x.run.pid}`, "-f", "jsonl", "-o", out, ...extra], { encoding: "utf8", timeout: 60_000 });
  const events = r.status === 0 ? readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Merged) : [];
  return { status: r.status, stderr: r.stderr, events };
}

/** Every loop's checks; violations and the slack of each check, in host TSC ticks. */
function causality(events: readonly Merged[], tid: number, loops: number): { violations: string[]; slack: Record<string, bigint[]> } {
  const hostOf = (name: string, pred: (e: Merged) => boolean = () => true) => events.filter((e) => e.machine === "host" && e.tid === tid && e.event === name && pred(e)).map((e) => BigInt(e.ts));
  const cpuid = hostOf("kvm:kvm_cpuid");
  const pio = hostOf("kvm:kvm_pio");
  const entry = hostOf("kvm:kvm_entry");
  const reentry = entry.length > 0 ? entry : hostOf("kvm:kvm_fpu", (e) => String(e.fields.load) === "1" || e.fields.load === true);
  const guestAt = new Map<string, bigint>();
  for (const e of events) if (e.machine === "vm1") guestAt.set(`${e.event}:${String(e.fields.seq)}`, BigInt(e.ts));
  expect(cpuid.length, "one kvm_cpuid per loop").toBe(loops + 1);
  expect(pio.length, "one kvm_pio per loop").toBe(loops + 1);
  expect(reentry.length, "host re-entries (kvm_entry or kvm_fpu load)").toBeGreaterThan(loops);
  const slack: Record<string, bigint[]> = { "host kvm_cpuid − guest before": [], "guest after − host kvm_cpuid": [], "host kvm_pio − guest before out": [], "guest after out − host re-entry": [] };
  const violations: string[] = [];
  let r = 0;
  for (let k = 0; k <= loops; k++) {
    const before = guestAt.get(`guest:tsc_before_cpuid:${k}`);
    const after = guestAt.get(`guest:tsc_after_cpuid:${k}`);
    if (before === undefined || after === undefined) {
      violations.push(`loop ${k}: missing from the guest trace`);
      continue;
    }
    const c = cpuid[k] as bigint;
    const p = pio[k] as bigint;
    if (!(before < c)) violations.push(`loop ${k}: guest before cpuid ${before} ≥ host kvm_cpuid ${c}`);
    if (!(c < after)) violations.push(`loop ${k}: host kvm_cpuid ${c} ≥ guest after cpuid ${after}`);
    if (!(after < p)) violations.push(`loop ${k}: guest before out ${after} ≥ host kvm_pio ${p}`);
    slack["host kvm_cpuid − guest before"]?.push(c - before);
    slack["guest after − host kvm_cpuid"]?.push(after - c);
    slack["host kvm_pio − guest before out"]?.push(p - after);
    if (k < loops) {
      const afterOut = guestAt.get(`guest:tsc_after_out:${k}`) as bigint;
      // The re-entry that resumed loop k: the first one after its port exit.
      while (r < reentry.length && (reentry[r] as bigint) <= p) r++;
      const re = reentry[r];
      if (re === undefined || !(re < afterOut)) violations.push(`loop ${k}: host re-entry ${re} not before guest after out ${afterOut}`);
      else slack["guest after out − host re-entry"]?.push(afterOut - re);
    }
  }
  return { violations, slack };
}

function report(slack: Record<string, bigint[]>): void {
  const hz = Number(readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/)?.[1] ?? "0") * 1e6;
  const ns = (t: bigint) => (hz > 0 ? `${Math.round((Number(t) * 1e9) / hz)} ns` : `${t} ticks`);
  for (const [k, v] of Object.entries(slack)) {
    if (v.length === 0) continue;
    const q = quantiles(v);
    console.log(`[kvm-guest] slack ${k}: min ${ns(q.min)}, median ${ns(q.median)}, max ${ns(q.max)} (${v.length} loops)`);
  }
}

const bin = join(work, "kvm-guest-harness");

describe.skipIf(reason !== null)("a real KVM guest, traced from the host, mapped and merged", () => {
  it("keeps every guest timestamp between the host events that bracket it, and cross-checks kvm_write_tsc_offset", async (ctx) => {
    must("gcc", ["-O2", "-Wall", "-pthread", "-o", bin, HARNESS_SRC], "building the guest harness");
    const x = await experiment(bin, ["--loops", String(LOOPS)]);
    if (!x) return ctx.skip("KVM cannot run the guest here (see the line above)");
    const m = merge(x, ["--mapping", `vm1=${x.run.mapping}`]);
    expect(m.status, m.stderr).toBe(0);
    console.log(`[kvm-guest] merge summary:\n${m.stderr}`);
    const { violations, slack } = causality(m.events, x.tid, LOOPS);
    report(slack);
    expect(violations.slice(0, 5), `${violations.length} causality violations`).toEqual([]);

    // The host's kvm_write_tsc_offset events were checked against the debugfs mapping.
    expect(m.stderr).toMatch(/vm1: (the host's kvm_write_tsc_offset events agree with|CONFLICT: kvm_write_tsc_offset events)/);
    if (/CONFLICT/.test(m.stderr)) {
      console.log("[kvm-guest] this host's kvm_write_tsc_offset reports an offset KVM does not apply (debugfs disagrees): merge used the debugfs mapping");
      // Demanding the events stops with a clear error, never a timeline off by the host's uptime ...
      const req = merge(x, ["--mapping", `vm1=${x.run.mapping}`, "--tsc-offset-events", "require"]);
      expect(req.status).toBe(1);
      expect(req.stderr).toMatch(/kvm_write_tsc_offset offsets break causality/);
      expect(req.stderr.trim().split("\n")).toHaveLength(1);
      // ... and without a mapping file the events are set aside: the guest cannot be placed.
      const none = merge(x);
      expect(none.status).toBe(2);
      expect(none.stderr).toMatch(/no mapping leads from vm1\.tsc to host\.tsc/);
    } else {
      // Where they agree, the events alone place the guest exactly as debugfs does.
      const ev = merge(x);
      expect(ev.status, ev.stderr).toBe(0);
      expect(causality(ev.events, x.tid, LOOPS).violations.slice(0, 5)).toEqual([]);
    }
  }, 120_000);

  it("writes the guest's TSC mid-run: a new epoch where KVM applies it, proven ignored where it does not", async (ctx) => {
    if (!existsSync(bin)) must("gcc", ["-O2", "-Wall", "-pthread", "-o", bin, HARNESS_SRC], "building the guest harness");
    const at = LOOPS / 2;
    const x = await experiment(bin, ["--loops", String(LOOPS), "--set-tsc-at", String(at)]);
    if (!x) return ctx.skip("KVM cannot run the guest here (see the line above)");
    const line = /set-tsc vcpu=0 loop=\d+ rc=(-?\d+) errno=(\d+) guest_before=(\d+) asked=(\d+)/.exec(x.run.stderr);
    expect(line, "the harness reported its IA32_TSC write").not.toBeNull();
    // The guest's own view: its TSC across the write (after cpuid of loop `at`, before cpuid of the next).
    const guest = x.run.stdout.trim().split("\n").map((l) => JSON.parse(l) as { ts: string; event: string; fields: { seq: number } });
    const g = (event: string, seq: number) => BigInt(guest.find((e) => e.event === event && e.fields.seq === seq)?.ts ?? "0");
    const jump = g("guest:tsc_before_cpuid", at + 1) - g("guest:tsc_after_cpuid", at);
    const asked = BigInt(line?.[4] ?? "0") - BigInt(line?.[3] ?? "0");
    const mapping = JSON.parse(readFileSync(x.run.mapping, "utf8")) as { epochs: unknown[] };
    if (jump < asked / 2n) {
      console.log(`[kvm-guest] KVM ignored the IA32_TSC write (KVM_SET_MSRS rc=${line?.[1]}): the guest TSC moved ${jump} ticks across it, not ${asked}; the epoch checks do not apply here`);
      expect(jump < asked / 2n).toBe(true);
      expect(mapping.epochs.length, "no new epoch for a write KVM ignored").toBe(1);
      const m = merge(x, ["--mapping", `vm1=${x.run.mapping}`]);
      expect(m.status, m.stderr).toBe(0);
      expect(causality(m.events, x.tid, LOOPS).violations.slice(0, 5)).toEqual([]);
      return;
    }
    // KVM applied it: --watch saw a new epoch, and the checks hold across the change.
    expect(mapping.epochs.length).toBeGreaterThanOrEqual(2);
    const m = merge(x, ["--mapping", `vm1=${x.run.mapping}`]);
    expect(m.status, m.stderr).toBe(0);
    console.log(`[kvm-guest] merge summary across the TSC write:\n${m.stderr}`);
    expect(m.stderr).toMatch(/vm1: .*epochs crossed [1-9]/);
    const { violations, slack } = causality(m.events, x.tid, LOOPS);
    report(slack);
    expect(violations.slice(0, 5), `${violations.length} causality violations across the TSC write`).toEqual([]);
    // The host's tracepoint saw the write too, at the instant it happened.
    const host = readFileSync(x.host.replace(/\.dat$/, ".txt"), "utf8");
    expect((host.match(/kvm_write_tsc_offset/g) ?? []).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
