// x86 benchmark: batch KVM TSC conversion vs a C reference built now, and the
// TSC clock source's now() vs process.hrtime.bigint() (also where the TSC is
// not the selected source). Every figure is a ratio against a baseline timed
// in this run. `clocksource convert` against a C line converter is in
// bench/time-conversion.bench.mjs. Imports the built dist/ (run `npx tsc -b` first).
import "reflect-metadata";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildMappingFile, createClockContainer, ClockSelector, DirectorySystemView, serializeMappingFile } from "@clocksource/core";
import { batchBackend, batchFallbackReason, kvmForward, kvmForwardBatch, kvmInverse, kvmInverseBatch, kvmTscCodec, nativeReader, register, X86TscBackend } from "../dist/index.js";
import { bestOf as best } from "../../../bench/bench-kit.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "x86-bench-"));
const N = 10_000_000;
const P = { offset: -123456789012345n, ratio: (1n << 48n) + 12345678901n, fracBits: 48 };
const fmt = (x, d = 2) => x.toFixed(d);

/** xorshift32 words, low word first: the C reference generates the same 10M values. */
function fill(words, seed) {
  let x = seed >>> 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
}
function xorChecksum(arr) {
  const w = new Uint32Array(arr.buffer, arr.byteOffset, arr.length * 2);
  let lo = 0, hi = 0;
  for (let i = 0; i < w.length; i += 2) { lo ^= w[i]; hi ^= w[i + 1]; }
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16);
}

// ---------------------------------------------------------------- batch vs C
const input = new BigUint64Array(N);
fill(new Uint32Array(input.buffer), 2463534242);
const out = new BigUint64Array(N);
kvmForwardBatch(input.subarray(0, 1000), P, out.subarray(0, 1000)); // warm-up
const fwdNs = best(3, () => kvmForwardBatch(input, P, out)) / N;
const fwdSum = xorChecksum(out);
for (const i of [0, 1, 12345, N - 1]) if (out[i] !== kvmForward(input[i], P)) throw new Error(`batch forward differs from BigInt at ${i}`);
const invNs = best(3, () => kvmInverseBatch(input, P, out)) / N;
const invSum = xorChecksum(out);
for (const i of [0, 1, 12345, N - 1]) if (out[i] !== kvmInverse(input[i], P)) throw new Error(`batch inverse differs from BigInt at ${i}`);
// BigInt reference on a sample, for scale
const SAMPLE = 200_000;
const bigFwd = best(1, () => { for (let i = 0; i < SAMPLE; i++) kvmForward(input[i], P); }) / SAMPLE;
const bigInv = best(1, () => { for (let i = 0; i < SAMPLE; i++) kvmInverse(input[i], P); }) / SAMPLE;

const C = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){ struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec*1e9 + t.tv_nsec; }
int main(int argc, char **argv){
  size_t n = strtoull(argv[1],0,10); uint64_t ratio = strtoull(argv[2],0,10); unsigned f = atoi(argv[3]); int64_t off = strtoll(argv[4],0,10);
  uint32_t *w = malloc(n*8); uint64_t *in = (uint64_t*)w, *out = malloc(n*8);
  uint32_t x = 2463534242u; for (size_t i=0;i<2*n;i++){ x^=x<<13; x^=x>>17; x^=x<<5; w[i]=x; }
  double bf = 1e18, bi = 1e18; uint64_t sf = 0, si = 0;
  for (int r=0;r<3;r++){
    double t0 = now();
    for (size_t i=0;i<n;i++) out[i] = (uint64_t)(((unsigned __int128)in[i]*ratio)>>f) + (uint64_t)off;
    double t1 = now(); if (t1-t0<bf) bf=t1-t0;
    sf = 0; for (size_t i=0;i<n;i++) sf ^= out[i];
    t0 = now();
    for (size_t i=0;i<n;i++){ unsigned __int128 X = ((unsigned __int128)(in[i]-(uint64_t)off) << f) + (ratio-1); out[i] = (uint64_t)(X / ratio); }
    t1 = now(); if (t1-t0<bi) bi=t1-t0;
    si = 0; for (size_t i=0;i<n;i++) si ^= out[i];
  }
  printf("%.4f %.4f %llx %llx\n", bf/n, bi/n, (unsigned long long)sf, (unsigned long long)si);
  return 0;
}`;
let cLine = "C reference: not run";
let cFwd, cInv;
try {
  writeFileSync(join(tmp, "ref.c"), C);
  execFileSync("cc", ["-O2", "-o", join(tmp, "ref"), join(tmp, "ref.c")], { stdio: ["ignore", "pipe", "pipe"] });
  const r = execFileSync(join(tmp, "ref"), [String(N), String(P.ratio), String(P.fracBits), String(P.offset)], { encoding: "utf8" }).trim().split(" ");
  [cFwd, cInv] = [Number(r[0]), Number(r[1])];
  const same = r[2] === fwdSum && r[3] === invSum;
  cLine = `C reference (cc -O2, unsigned __int128): forward ${fmt(cFwd)} ns/value, inverse ${fmt(cInv)} ns/value; checksums ${same ? "identical to the batch results" : `DIFFER (C ${r[2]}/${r[3]} vs JS ${fwdSum}/${invSum})`}`;
  if (!same) process.exitCode = 1;
} catch (e) {
  const msg = e.code === "ENOENT" ? "no C compiler (`cc`) on PATH" : (e.stderr?.toString() || e.message).split("\n")[0];
  cLine = `C reference: not built (${msg})`;
}
console.log(`KVM TSC batch over BigUint64Array, ${N / 1e6}M values (kernels: ${batchBackend()}${batchFallbackReason() ? ` — ${batchFallbackReason()}` : ""}):`);
console.log(`  forward ${fmt(fwdNs)} ns/value, inverse ${fmt(invNs)} ns/value (BigInt reference: ${fmt(bigFwd)} / ${fmt(bigInv)} ns/value)`);
console.log(`  ${cLine}`);
if (cFwd !== undefined) console.log(`  ratio batch / C: forward ${fmt(fwdNs / cFwd)}x (goal <= 1.5x), inverse ${fmt(invNs / cInv)}x (goal <= 2x)`);

// ---------------------------------------------------------------- now() vs hrtime
const reader = nativeReader();
if (!reader.ok || reader.native.counter !== "tsc") {
  console.log(`\nTSC now(): not measured: ${reader.ok ? "the native reader does not read a TSC here" : `native reader unavailable: ${reader.reason}`}`);
} else {
  const c = createClockContainer({ view: new DirectorySystemView("/", true), env: {} });
  register(c);
  const selector = c.resolve(ClockSelector);
  const verdict = selector.rank().backends.find((b) => b.id === "x86-tsc");
  // Measured where the TSC is readable even when the backend is not selected (a TSC marked unstable is still a counter).
  let src;
  try {
    src = new X86TscBackend().create({ facts: selector.facts(), policy: {} });
  } catch (e) {
    console.log(`\nTSC now(): not measured: ${e.message}`);
  }
  if (src) {
    const CALLS = 5_000_000;
    // Only the last value is kept: folding every value in would time a BigInt operation per call on both sides.
    let sink = 0n;
    const noop = reader.native.noop;
    const tscNs = best(5, () => { for (let i = 0; i < CALLS; i++) sink = src.now(); }) / CALLS;
    const hrNs = best(5, () => { for (let i = 0; i < CALLS; i++) sink = process.hrtime.bigint(); }) / CALLS;
    const floorNs = best(5, () => { for (let i = 0; i < CALLS; i++) noop(); }) / CALLS;
    console.log(`\nclock read, ${CALLS / 1e6}M calls${verdict?.usable ? "" : ` (x86-tsc not usable here: ${verdict?.reasons.join("; ")}; read anyway)`}:`);
    console.log(`  x86-tsc now() ${fmt(tscNs)} ns/call, process.hrtime.bigint() ${fmt(hrNs)} ns/call; ratio ${fmt(tscNs / hrNs)} (goal <= 0.5)`);
    console.log(`  floor: an empty Node-API call ${fmt(floorNs)} ns = ${fmt(floorNs / hrNs)}x hrtime.bigint()${sink === 1n ? "" : ""}`);
  }
}

rmSync(tmp, { recursive: true, force: true });
