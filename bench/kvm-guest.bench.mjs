// The KVM guest harness (test/kvm/kvm-guest-harness.c) for 100k loops, traced from the host
// and merged: events per second through `clocksource merge`, and the slack of every causality
// check (guest TSC before cpuid < host kvm_cpuid < guest TSC after < host kvm_pio; host
// re-entry < guest TSC after the port write), in ns. Needs root, /dev/kvm, tracefs with the kvm
// events, gcc and trace-cmd; says what is missing and exits 0 otherwise. The test of the same
// chain is test/kvm-guest.test.ts; docs/merge.md replays it by hand.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { extractInstances, removeInstance, TRACEFS } from "../packages/trace/bench/tracefs-extract.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(root, "packages/cli/bin/clocksource.cjs");
const LOOPS = Number(process.env.BENCH_KVM_LOOPS ?? 100_000);

function skip(reason) {
  console.log(`kvm-guest bench skipped: ${reason}`);
  process.exit(0);
}
if (process.getuid?.() !== 0) skip("needs root");
if (!existsSync("/dev/kvm")) skip("/dev/kvm does not exist (no KVM on this machine)");
if (!existsSync(join(TRACEFS, "events/kvm/kvm_pio"))) skip("tracefs has no kvm events");
for (const tool of ["gcc", "trace-cmd", "unshare"]) if (spawnSync(tool, ["--version"]).error) skip(`${tool} is not installed`);
if (!existsSync(join(root, "packages/cli/dist/main.js"))) skip("build first (npx tsc -b)");

const work = mkdtempSync(join(tmpdir(), "clocksource-kvm-bench-"));
const name = `clocksource-kvm-bench-${process.pid}`;
const inst = join(TRACEFS, "instances", name);
function must(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? r.stderr}`);
  return r;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Thrown inside the run (which must clean up) where skip() would exit at once. */
class SkipBench extends Error {}

/** The harness process, killed on the way out whatever happened. */
let child;
try {
  const bin = join(work, "harness");
  must("gcc", ["-O2", "-pthread", "-o", bin, join(root, "test/kvm/kvm-guest-harness.c")]);
  mkdirSync(inst);
  writeFileSync(join(inst, "trace_clock"), "x86-tsc");
  writeFileSync(join(inst, "buffer_size_kb"), String(Math.ceil((LOOPS * 6 * 64) / 1024) + 8192));
  for (const e of ["kvm_pio", "kvm_cpuid", "kvm_userspace_exit", "kvm_fpu", "kvm_write_tsc_offset", "kvm_entry", "kvm_exit"]) {
    if (existsSync(join(inst, "events/kvm", e))) writeFileSync(join(inst, "events/kvm", e, "enable"), "1");
  }
  writeFileSync(join(inst, "tracing_on"), "1");
  child = spawn(bin, ["--loops", String(LOOPS), "--hold"], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const closed = new Promise((r) => child.on("close", (code) => r(code)));
  while (!/ready pid=\d+/.test(err) && child.exitCode === null) await sleep(20);
  if (child.exitCode === 3) throw new SkipBench(err.trim());
  const pid = Number(/ready pid=(\d+)/.exec(err)?.[1]);
  const mapping = join(work, "vm1.mapping.json");
  must(process.execPath, [CLI, "kvm-mapping", "--pid", String(pid), "--out", mapping]);
  child.stdin.write("go\n");
  while (!/^done$/m.test(err) && child.exitCode === null) await sleep(20);
  if (child.exitCode === 3) throw new SkipBench(err.trim());
  child.stdin.end();
  if ((await closed) !== 0) throw new Error(`harness: ${err}`);
  writeFileSync(join(inst, "tracing_on"), "0");
  const host = join(work, "host.dat");
  extractInstances([name], host, join(work, "scratch"));
  const guest = join(work, "vm1.jsonl");
  writeFileSync(guest, out);
  const tid = Number(/vcpu 0 tid=(\d+)/.exec(err)?.[1]);

  const merged = join(work, "merged.jsonl");
  const t0 = process.hrtime.bigint();
  const m = must(process.execPath, [CLI, "merge", `host=${host}`, `vm1=${guest}`, "--mapping", `vm1=${mapping}`, "--vm-pid", `vm1=${pid}`, "-f", "jsonl", "-o", merged]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const total = Number(/^merge: (\d+) events/m.exec(m.stderr)?.[1]);
  const events = readFileSync(merged, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const hostOf = (n, pred = () => true) => events.filter((e) => e.machine === "host" && e.tid === tid && e.event === n && pred(e)).map((e) => BigInt(e.ts));
  const cpuid = hostOf("kvm:kvm_cpuid");
  const pio = hostOf("kvm:kvm_pio");
  const entry = hostOf("kvm:kvm_entry");
  const reentry = entry.length > 0 ? entry : hostOf("kvm:kvm_fpu", (e) => String(e.fields.load) === "1");
  const guestAt = new Map(events.filter((e) => e.machine === "vm1").map((e) => [`${e.event}:${e.fields.seq}`, BigInt(e.ts)]));
  const slack = { "kvm_cpuid - guest before": [], "guest after - kvm_cpuid": [], "kvm_pio - guest before out": [], "guest after out - re-entry": [] };
  let violations = 0;
  let r = 0;
  for (let k = 0; k <= LOOPS && k < cpuid.length && k < pio.length; k++) {
    const before = guestAt.get(`guest:tsc_before_cpuid:${k}`);
    const after = guestAt.get(`guest:tsc_after_cpuid:${k}`);
    const c = cpuid[k];
    const p = pio[k];
    const d = [c - before, after - c, p - after];
    d.forEach((x, i) => (x > 0n ? Object.values(slack)[i].push(x) : violations++));
    if (k < LOOPS) {
      while (r < reentry.length && reentry[r] <= p) r++;
      const a = guestAt.get(`guest:tsc_after_out:${k}`);
      if (reentry[r] !== undefined && a > reentry[r]) slack["guest after out - re-entry"].push(a - reentry[r]);
      else violations++;
    }
  }
  const hz = Number(readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/)?.[1] ?? "0") * 1e6;
  const ns = (t) => (hz > 0 ? `${Math.round((Number(t) * 1e9) / hz)} ns` : `${t} ticks`);
  console.log(`kvm guest harness, ${LOOPS} loops: ${total} events merged in ${seconds.toFixed(2)} s (${(total / seconds / 1e6).toFixed(2)} M events/s through merge, JSON lines out)`);
  console.log(`  causality violations: ${violations}${cpuid.length !== LOOPS + 1 ? ` (host events: ${cpuid.length} kvm_cpuid for ${LOOPS + 1} loops)` : ""}`);
  for (const [k, v] of Object.entries(slack)) {
    if (v.length === 0) continue;
    const s = [...v].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    console.log(`  slack ${k}: min ${ns(s[0])}, median ${ns(s[s.length >> 1])}, max ${ns(s[s.length - 1])}`);
  }
} catch (e) {
  if (!(e instanceof SkipBench)) throw e;
  console.log(`kvm-guest bench skipped: ${e.message}`);
} finally {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  removeInstance(inst);
  rmSync(work, { recursive: true, force: true });
}
