// ticks → ns: the batch fast path (32-bit words, no BigInt per value) next to
// the BigInt reference and a C reference built now with the system compiler.
// All three convert the same values in this run; ratios are the figures.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bestOf } from "../../../bench/bench-kit.mjs";
import { calcMultShift, scaleTicksBatch, scaleTicksReference, u64KernelsStatus } from "../dist/index.js";

const N = Number(process.env.BENCH_N ?? 10_000_000);
const scale = calcMultShift(2_599_998_000, 1_000_000_000, 600);

// Deterministic pseudo-random u64 inputs (xorshift64*), shared with the C program.
function fill(n) {
  const a = new BigUint64Array(n);
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < n; i++) {
    x ^= x >> 12n; x ^= BigInt.asUintN(64, x << 25n); x ^= x >> 27n;
    a[i] = BigInt.asUintN(64, x * 0x2545f4914f6cdd1dn);
  }
  return a;
}

const input = fill(N);
const out = new BigUint64Array(N);

const best = (fn, reps = 3) => bestOf(reps, fn) / N;

const batchNs = best(() => scaleTicksBatch(input, scale, out));
const refN = Math.min(N, 1_000_000);
const refNs = best(() => {
  for (let i = 0; i < refN; i++) scaleTicksReference(input[i], scale);
}, 2) * (N / refN);
for (let i = 0; i < 1000; i++) if (out[i] !== scaleTicksReference(input[i], scale)) throw new Error(`batch differs from the reference at ${i}`);

const csrc = `
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  size_t n = strtoull(argv[1], 0, 10); uint32_t mult = strtoul(argv[2], 0, 10); unsigned shift = atoi(argv[3]);
  uint64_t *in = malloc(n * 8), *out = malloc(n * 8), x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < n; i++) { x ^= x >> 12; x ^= x << 25; x ^= x >> 27; in[i] = x * 0x2545f4914f6cdd1dULL; }
  double best = 1e30;
  for (int r = 0; r < 3; r++) {
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < n; i++) out[i] = (uint64_t)(((unsigned __int128)in[i] * mult) >> shift);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    if (ns < best) best = ns;
  }
  uint64_t check = 0; for (size_t i = 0; i < n; i++) check ^= out[i];
  printf("%.4f %llu\\n", best / n, (unsigned long long)check);
  return 0;
}`;
let cLine = "C reference: unavailable";
let cNs = null;
let mismatch = null;
try {
  const dir = mkdtempSync(join(tmpdir(), "cs-bench-"));
  writeFileSync(join(dir, "ref.c"), csrc);
  execFileSync("cc", ["-O2", "-o", join(dir, "ref"), join(dir, "ref.c")], { stdio: "pipe" });
  const r = spawnSync(join(dir, "ref"), [String(N), String(scale.mult), String(scale.shift)], { encoding: "utf8" });
  const [ns, check] = r.stdout.trim().split(" ");
  cNs = Number(ns);
  let js = 0n;
  for (let i = 0; i < N; i++) js ^= out[i];
  if (BigInt(check) !== js) mismatch = `C and JS results differ (checksums ${check} vs ${js})`;
  cLine = `C reference (cc -O2, 128-bit product)  ${cNs.toFixed(2)} ns/value  (results identical)`;
} catch (e) {
  cLine = `C reference: not built (${e.message.split("\n")[0]})`;
}

console.log(`ticks -> ns, ${N.toLocaleString("en")} values, mult ${scale.mult} shift ${scale.shift}`);
console.log(`BigInt reference                       ${refNs.toFixed(2)} ns/value`);
const kernels = u64KernelsStatus();
if (!kernels.ok) console.log(`(WebAssembly kernels unavailable: ${kernels.reason}; the batch ran in JavaScript)`);
console.log(`scaleTicksBatch (BigUint64Array)       ${batchNs.toFixed(2)} ns/value  ${(refNs / batchNs).toFixed(1)}x faster than BigInt`);
console.log(cLine);
if (mismatch) {
  console.log(`ERROR: ${mismatch}`);
  process.exitCode = 1;
}
if (cNs) console.log(`batch / C ratio                        ${(batchNs / cNs).toFixed(1)}x`);
