// Time conversion at the speed of C (issue 10): every row is a ratio against a
// baseline timed in this run, on this machine, interleaved with it — a C
// reference built now (gcc -O2, unsigned __int128), `process.hrtime.bigint()`
// or `node -e 0`. Outputs are checked byte-identical to the reference before
// any time is reported; a mismatch fails the benchmark.
//
//   BENCH_LINES (2e6)  lines converted    BENCH_BATCH (1e7)  values per batch run
//   BENCH_RUNS  (5)    timed runs per row (the best is kept: the least disturbed on a shared machine)
//   BENCH_ROOT         another built checkout to measure (e.g. an older commit), default this one
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import "reflect-metadata";

const root = process.env.BENCH_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "packages/cli/bin/clocksource.cjs");
const { buildMappingFile, serializeMappingFile, ClockSelector, createClockContainer } = await import(join(root, "packages/core/dist/index.js"));
const x86 = await import(join(root, "packages/x86/dist/index.js"));
const LINES = Number(process.env.BENCH_LINES ?? 2_000_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 10_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const tmp = mkdtempSync(join(tmpdir(), "cs-bench-conv-"));
const P = { offset: -987654321012345n, ratio: (1n << 48n) + 4_503_599_627n, fracBits: 48 };
const rows = [];
let failed = false;
const fmt = (x, d = 2) => x.toFixed(d);

function row(what, ratio, goal, detail) {
  rows.push({ what, ratio, goal, detail });
  console.log(`${what.padEnd(44)} ${ratio === null ? "   n/a" : `${fmt(ratio).padStart(6)}x`}  goal <= ${goal}x  ${ratio === null ? "" : ratio <= goal ? "met" : "NOT met"}  (${detail})`);
}
function mismatch(what) {
  console.log(`ERROR: ${what}`);
  failed = true;
}

// ------------------------------------------------------------------ C reference
const C = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static char inb[1 << 16], outb[(1 << 16) + 64];
/* lines fwd|rev RATIO FRAC OFFSET: decimal lines on stdin, converted lines on stdout
   (fwd = guest -> host, the smallest host tick at or past the guest value; rev = host -> guest) */
static int lines(int rev, uint64_t ratio, unsigned f, uint64_t off) {
  size_t o = 0; uint64_t v = 0;
  for (;;) {
    ssize_t r = read(0, inb, sizeof inb);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++) {
      unsigned c = (unsigned char)inb[i];
      if (c != '\n') { v = v * 10 + (c - '0'); continue; }
      uint64_t w;
      if (rev) w = (uint64_t)(((unsigned __int128)v * ratio) >> f) + off;
      else w = (uint64_t)((((unsigned __int128)(v - off) << f) + (ratio - 1)) / ratio);
      char tmp[24]; int k = 0;
      do { tmp[k++] = '0' + w % 10; w /= 10; } while (w);
      while (k) outb[o++] = tmp[--k];
      outb[o++] = '\n';
      if (o >= (1 << 16)) { fwrite(outb, 1, o, stdout); o = 0; }
      v = 0;
    }
  }
  fwrite(outb, 1, o, stdout);
  return 0;
}
/* batch N RATIO FRAC OFFSET: forward and inverse over N xorshift32 values, best of 3; prints ns/value and checksums */
static int batch(size_t n, uint64_t ratio, unsigned f, uint64_t off) {
  uint32_t *w = malloc(n * 8); uint64_t *in = (uint64_t *)w, *out = malloc(n * 8);
  uint32_t x = 2463534242u; for (size_t i = 0; i < 2 * n; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; w[i] = x; }
  double bf = 1e30, bi = 1e30; uint64_t sf = 0, si = 0;
  for (int r = 0; r < 3; r++) {
    double t0 = now();
    for (size_t i = 0; i < n; i++) out[i] = (uint64_t)(((unsigned __int128)in[i] * ratio) >> f) + off;
    double t1 = now(); if (t1 - t0 < bf) bf = t1 - t0;
    sf = 0; for (size_t i = 0; i < n; i++) sf ^= out[i];
    t0 = now();
    for (size_t i = 0; i < n; i++) { unsigned __int128 X = ((unsigned __int128)(in[i] - off) << f) + (ratio - 1); out[i] = (uint64_t)(X / ratio); }
    t1 = now(); if (t1 - t0 < bi) bi = t1 - t0;
    si = 0; for (size_t i = 0; i < n; i++) si ^= out[i];
  }
  printf("%.4f %.4f %llx %llx\n", bf / n, bi / n, (unsigned long long)sf, (unsigned long long)si);
  return 0;
}
int main(int argc, char **argv) {
  uint64_t ratio = strtoull(argv[3], 0, 10); unsigned f = atoi(argv[4]); uint64_t off = (uint64_t)strtoll(argv[5], 0, 10);
  if (!strcmp(argv[1], "batch")) return batch(strtoull(argv[2], 0, 10), ratio, f, off);
  return lines(!strcmp(argv[2], "rev"), ratio, f, off);
}`;
let cbin = null;
try {
  writeFileSync(join(tmp, "ref.c"), C);
  execFileSync("gcc", ["-O2", "-o", join(tmp, "ref"), join(tmp, "ref.c")], { stdio: ["ignore", "pipe", "pipe"] });
  cbin = join(tmp, "ref");
  console.log("C reference: gcc -O2, unsigned __int128, built now");
} catch (e) {
  console.log(`C reference: NOT built (${e.code === "ENOENT" ? "gcc is missing" : (e.stderr?.toString() || e.message).split("\n")[0]}): the rows against C are not measured`);
}
const cArgs = [String(P.ratio), String(P.fracBits), String(P.offset)];

// CPU time (user + system) of a run, from GNU time when it is installed: on a busy shared machine it
// says more than wall time, which also counts waiting for a CPU.
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
const cpuFile = join(tmp, "cpu.txt");

/** Wall (and CPU, when measurable) seconds of one run of `argv`, stdin from `input`, stdout to `output` (paths). */
function timed(argv, input, output) {
  const i = openSync(input, "r");
  const o = openSync(output, "w");
  try {
    const cmd = GNU_TIME ? [GNU_TIME, "-f", "%U %S", "-o", cpuFile, ...argv] : argv;
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: [i, o, "pipe"] });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
    const cpu = GNU_TIME ? readFileSync(cpuFile, "utf8").trim().split(/\s+/).slice(-2).reduce((a, x) => a + Number(x), 0) : NaN;
    return { wall, cpu };
  } finally {
    closeSync(i);
    closeSync(o);
  }
}

/** Best wall and best CPU time of RUNS for each command, the runs interleaved so that load on a shared machine hits all alike. */
function bestOf(commands) {
  const best = commands.map(() => ({ wall: Infinity, cpu: Infinity }));
  for (let r = 0; r < RUNS; r++) {
    commands.forEach((c, k) => {
      const t = c();
      best[k] = { wall: Math.min(best[k].wall, t.wall), cpu: Math.min(best[k].cpu, t.cpu) };
    });
  }
  return best;
}

// ------------------------------------------------------------------ convert vs C
const map = join(tmp, "map.json");
writeFileSync(map, serializeMappingFile(buildMappingFile(x86.kvmTscCodec, { from: "guest.tsc", to: "host.tsc", producer: "bench", createdAt: "2025-01-01T00:00:00.000Z", epochs: [{ observedAt: "2025-01-01T00:00:00.000Z", params: P }] })));
const input = join(tmp, "in.txt");
{
  const fd = openSync(input, "w");
  let x = 0x9e3779b97f4a7c15n;
  let text = "";
  for (let i = 0; i < LINES; i++) {
    x ^= x >> 12n; x ^= BigInt.asUintN(64, x << 25n); x ^= x >> 27n;
    text += `${BigInt.asUintN(64, x * 0x2545f4914f6cdd1dn) & ((1n << 56n) - 1n)}\n`;
    if (text.length > 1 << 20) { writeSync(fd, text); text = ""; }
  }
  writeSync(fd, text);
  closeSync(fd);
}
console.log(`\nclocksource convert, ${LINES.toLocaleString("en")} random 56-bit values, KVM scaled (ratio 2^48 + 4503599627), from a file to a file:`);
for (const [label, args, mode] of [["convert guest -> host", [], "fwd"], ["convert --reverse host -> guest", ["--reverse"], "rev"]]) {
  const js = [process.execPath, bin, "convert", "--mapping", map, ...args];
  if (!cbin) {
    row(label, null, 2, "no C reference");
    continue;
  }
  const outC = join(tmp, `c-${mode}.out`);
  const outJs = join(tmp, `js-${mode}.out`);
  timed([cbin, "lines", mode, ...cArgs], input, outC);
  timed(js, input, outJs);
  if (!readFileSync(outC).equals(readFileSync(outJs))) {
    mismatch(`${label}: output differs from the C reference`);
    continue;
  }
  const [c, j] = bestOf([() => timed([cbin, "lines", mode, ...cArgs], input, outC), () => timed(js, input, outJs)]);
  const cpu = GNU_TIME ? `; CPU time ${fmt((j.cpu / c.cpu), 2)}x (C ${fmt(c.cpu * 1000, 0)} ms, clocksource ${fmt(j.cpu * 1000, 0)} ms)` : "";
  row(label, j.wall / c.wall, 2, `wall: C ${fmt(c.wall * 1000, 0)} ms, clocksource ${fmt(j.wall * 1000, 0)} ms${cpu}; outputs identical`);
}

// ------------------------------------------------------------------ batch vs C
{
  const { kvmForwardBatch, kvmInverseBatch, kvmForward, kvmInverse, batchBackend, allocU64Batch, setNativeBatch } = x86;
  const values = new BigUint64Array(BATCH);
  const w = new Uint32Array(values.buffer);
  let s = 2463534242;
  for (let i = 0; i < w.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; w[i] = s; }
  const out = new BigUint64Array(BATCH);
  out.fill(0n); // touches every page once, so that no run pays for first-touch page faults
  // The same values in an array that lives in kernel memory (allocU64Batch), converted in place; a
  // checkout without it (BENCH_ROOT) reports those rows as not measured.
  const km = typeof allocU64Batch === "function" ? allocU64Batch(BATCH) : null;
  if (km) km.set(values);
  const checksum = (a) => {
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
    let lo = 0, hi = 0;
    for (let i = 0; i < u.length; i += 2) { lo ^= u[i]; hi ^= u[i + 1]; }
    return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16);
  };
  const time = (f) => { const t0 = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t0) / BATCH; };
  const C = cbin ? execFileSync(cbin, ["batch", String(BATCH), ...cArgs], { encoding: "utf8" }).trim().split(" ") : null;

  /** Times one backend (the one batchBackend() names now) on plain and kernel-memory arrays, and prints its four rows. */
  const measure = (title) => {
    kvmForwardBatch(values.subarray(0, 100_000), P, out.subarray(0, 100_000)); // warm the kernels up
    kvmInverseBatch(values.subarray(0, 100_000), P, out.subarray(0, 100_000));
    if (km) {
      kvmForwardBatch(km.subarray(0, 100_000), P);
      kvmInverseBatch(km.subarray(0, 100_000), P);
    }
    let fwd = Infinity, inv = Infinity, sums = null;
    let kfwd = Infinity, kinv = Infinity, ksums = null;
    // Plain and kernel-memory runs interleaved, so that load on a shared machine hits both alike.
    for (let r = 0; r < RUNS; r++) {
      fwd = Math.min(fwd, time(() => kvmForwardBatch(values, P, out)));
      const sf = checksum(out);
      inv = Math.min(inv, time(() => kvmInverseBatch(values, P, out)));
      sums = [sf, checksum(out)];
      if (!km) continue;
      // In place: the input is copied in before each timed run (not timed), as a reader would fill the array.
      km.set(values);
      kfwd = Math.min(kfwd, time(() => kvmForwardBatch(km, P)));
      const ksf = checksum(km);
      for (const i of [0, 1, BATCH - 1]) if (km[i] !== kvmForward(values[i], P)) mismatch(`batch forward on a kernel-memory array differs from the BigInt reference at ${i}`);
      km.set(values);
      kinv = Math.min(kinv, time(() => kvmInverseBatch(km, P)));
      for (const i of [0, 1, BATCH - 1]) if (km[i] !== kvmInverse(values[i], P)) mismatch(`batch inverse on a kernel-memory array differs from the BigInt reference at ${i}`);
      ksums = [ksf, checksum(km)];
    }
    for (const i of [0, 1, BATCH - 1]) {
      kvmForwardBatch(values.subarray(i, i + 1), P, out.subarray(0, 1));
      if (out[0] !== kvmForward(values[i], P)) mismatch(`batch forward differs from the BigInt reference at ${i}`);
      kvmInverseBatch(values.subarray(i, i + 1), P, out.subarray(0, 1));
      if (out[0] !== kvmInverse(values[i], P)) mismatch(`batch inverse differs from the BigInt reference at ${i}`);
    }
    console.log(`\n${title}, ${(BATCH / 1e6).toFixed(0)}M values (kernels: ${batchBackend()}):`);
    const labels = [
      ["batch forward, plain BigUint64Array", 1.5],
      ["batch inverse, plain BigUint64Array", 2],
      ["batch forward, kernel-memory array", 1.5],
      ["batch inverse, kernel-memory array", 2],
    ].map(([l, g]) => [`${l} (${batchBackend()})`, g]);
    if (!C) {
      for (const [label, goal] of labels) row(label, null, goal, "no C reference");
      return;
    }
    const [cf, ci, csf, csi] = C;
    const report = ([[lf, gf], [li, gi]], f, i, sums, how) => {
      if (!sums) {
        row(lf, null, gf, "allocU64Batch is not in the measured checkout");
        row(li, null, gi, "allocU64Batch is not in the measured checkout");
      } else if (csf !== sums[0] || csi !== sums[1]) mismatch(`${how}: batch checksums differ from C (C ${csf}/${csi}, JS ${sums[0]}/${sums[1]})`);
      else {
        row(lf, f / Number(cf), gf, `C ${fmt(Number(cf))} ns/value, JS ${fmt(f)} ns/value${how === "plain" ? "" : ", in place"}; checksums identical`);
        row(li, i / Number(ci), gi, `C ${fmt(Number(ci))} ns/value, JS ${fmt(i)} ns/value${how === "plain" ? "" : ", in place"}; checksums identical`);
      }
    };
    report(labels.slice(0, 2), fwd, inv, sums, "plain");
    report(labels.slice(2), kfwd, kinv, ksums, "kernel-memory");
  };

  // The backend every caller gets (the native addon's loops where they load), then WebAssembly's
  // kernels alone, for a machine or a program without the addon.
  measure("KVM TSC batch (kvmForwardBatch / kvmInverseBatch)");
  if (typeof setNativeBatch === "function" && batchBackend() === "native") {
    setNativeBatch(false);
    measure("The same without the native addon (setNativeBatch(false))");
    setNativeBatch(true);
  } else if (typeof setNativeBatch === "function") {
    console.log(`(no native batch kernels here: ${x86.batchNativeReason()})`);
  }
}

// ------------------------------------------------------------------ now() vs hrtime
{
  const c = createClockContainer({ sysroot: "/", env: {} });
  x86.register(c);
  const selector = c.resolve(ClockSelector);
  const sel = selector.select();
  const CALLS = 3_000_000;
  let sink = 0n;
  // Each read gets a loop of its own, compiled separately, so that its call site stays monomorphic,
  // as in a program that reads one clock in a hot loop: one harness calling both reads through the
  // same site adds the same few ns of call dispatch to each and pulls the ratio toward 1. Only the
  // last value is kept: folding every value in would time a BigInt operation per call on both sides.
  const loop = (expr) => new Function("src", "CALLS", `const t0 = process.hrtime.bigint(); let s; for (let i = 0; i < CALLS; i++) s = ${expr}; return [Number(process.hrtime.bigint() - t0) / CALLS, s];`);
  const measure = (label, src) => {
    const now = loop("src.now()");
    const hr = loop("process.hrtime.bigint()");
    const time = (f) => { const [ns, last] = f(src, CALLS); sink = last; return ns; };
    time(now); time(hr);
    let a = Infinity, b = Infinity;
    for (let r = 0; r < RUNS; r++) { a = Math.min(a, time(now)); b = Math.min(b, time(hr)); }
    row(label, a / b, 0.5, `${fmt(a)} ns/call; process.hrtime.bigint() ${fmt(b)} ns/call; each in its own loop`);
  };
  console.log(`\nclock reads, ${(CALLS / 1e6).toFixed(0)}M calls; selected clock source: ${sel.selected.id} (${sel.source.domain.name})${sink === -1n ? "" : ""}`);
  measure(`selected source now() (${sel.selected.id})`, sel.source);
  if (sel.selected.id !== "x86-tsc") {
    // The TSC read the way the x86-tsc source reads it, where it is readable but not selected (e.g. marked unstable).
    const verdict = selector.rank().backends.find((b) => b.id === "x86-tsc");
    try {
      const tsc = new x86.X86TscBackend().create({ facts: selector.facts(), policy: {} });
      console.log(`x86-tsc is not selected here (${verdict?.reasons.join("; ") ?? "not ranked"}); read anyway:`);
      measure("x86-tsc now()", tsc);
    } catch (e) {
      console.log(`x86-tsc now(): not measured (${e.message})`);
    }
  }
}

// ------------------------------------------------------------------ start-up vs node -e 0
{
  const start = (args) => () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const runs = Math.max(RUNS, 9);
  const samples = [[], [], []];
  const cmds = [start(["-e", "0"]), start([bin, "probe", "--json"]), start([bin, "--version"])];
  cmds.forEach((c) => c()); // page cache
  for (let r = 0; r < runs; r++) cmds.forEach((c, k) => samples[k].push(c()));
  const med = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  const [n, p, v] = samples.map(med);
  console.log(`\nstart-up (median of ${runs}, interleaved):`);
  row("cold `clocksource probe --json`", p / n, 1.5, `${fmt(p, 0)} ms; node -e 0 ${fmt(n, 0)} ms`);
  row("`clocksource --version`", v / n, 1.2, `${fmt(v, 0)} ms; node -e 0 ${fmt(n, 0)} ms`);
}

// ------------------------------------------------------------------ peak memory
if (!existsSync("/proc/self/status")) {
  console.log("\npeak memory: not measured (no /proc)");
} else {
  /** Peak RSS (VmHWM) of `convert` fed `lines` lines through a pipe, output to /dev/null. */
  const peak = (lines) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, "convert", "--mapping", map], { stdio: ["pipe", "ignore", "pipe"] });
      let hwm = 0;
      const poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
          if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
        } catch {}
      }, 10);
      const block = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `${(BigInt(i) * 7_205_759_403_792_793n) & ((1n << 56n) - 1n)}\n`).join(""));
      let sent = 0;
      const feed = () => {
        while (sent < lines) {
          sent += 10_000;
          if (!child.stdin.write(block)) return child.stdin.once("drain", feed);
        }
        child.stdin.end();
      };
      child.stdin.on("error", reject);
      feed();
      child.on("close", (code) => {
        clearInterval(poll);
        if (code !== 0) reject(new Error(`convert exited ${code}`));
        else resolve(hwm);
      });
    });
  const small = await peak(LINES);
  const large = await peak(LINES * 10);
  const mb = (b) => fmt(b / 1048576, 1);
  console.log(`\npeak memory of convert (VmHWM, input through a pipe):`);
  console.log(`${`convert, ${(LINES / 1e6).toFixed(0)}M lines`.padEnd(44)} ${mb(small).padStart(6)} MB  goal <= 64 MB  ${small <= 64 * 1048576 ? "met" : "NOT met"}`);
  console.log(`${`convert, ${((LINES * 10) / 1e6).toFixed(0)}M lines`.padEnd(44)} ${mb(large).padStart(6)} MB  goal <= 64 MB and constant  ${large <= 64 * 1048576 && large - small < 8 * 1048576 ? "met" : "NOT met"}`);
}

rmSync(tmp, { recursive: true, force: true });
if (failed) process.exitCode = 1;
