// Arm benchmark: the CNTVOFF mapping (guest → host, host → guest) against a
// bare BigInt expression, and the device-tree walk + timer probe against a
// plain recursive readdir/stat of the same tree. Every figure is a ratio
// against a baseline timed in this run. Imports the built dist/ (run `npx tsc -b` first).
import "reflect-metadata";
import { readdirSync, statSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DirectorySystemView, FactSet, ArchProbe, KernelClocksourceProbe } from "@clocksource/core";
import { ArmCpuProbe, ArmTimerProbe, cntvoffMapping, findDeviceTreeTimers, guestToHost, hostToGuest, unavailableReader } from "../dist/index.js";
import { bestOf as best } from "../../../bench/bench-kit.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const fmt = (x, d = 2) => x.toFixed(d);


// ------------------------------------------------------------ offset mapping
const N = 1_000_000;
const values = new Array(N);
let x = 88172645463325252n;
for (let i = 0; i < N; i++) {
  x ^= (x << 13n) & 0xffff_ffff_ffff_ffffn;
  x ^= x >> 7n;
  x ^= (x << 17n) & 0xffff_ffff_ffff_ffffn;
  values[i] = x & ((1n << 56n) - 1n);
}
const off = (1n << 64n) - 123_456_789n;
let sink = 0n;
const bare = best(3, () => { for (let i = 0; i < N; i++) sink ^= BigInt.asUintN(56, values[i] + off); }) / N;
const fwd = best(3, () => { for (let i = 0; i < N; i++) sink ^= guestToHost(values[i], off, 56); }) / N;
const inv = best(3, () => { for (let i = 0; i < N; i++) sink ^= hostToGuest(values[i], off, 56); }) / N;
const fn = cntvoffMapping({ view: "virtual", voffset: off, poffset: null, widthBits: 56 });
const fnFwd = best(3, () => { for (let i = 0; i < N; i++) sink ^= fn.forward(values[i]); }) / N;
const fnInv = best(3, () => { for (let i = 0; i < N; i++) sink ^= fn.inverse(values[i]); }) / N;
for (const i of [0, 1, N - 1]) {
  if (guestToHost(values[i], off, 56) !== BigInt.asUintN(56, values[i] + off) || fn.forward(values[i]) !== BigInt.asUintN(56, values[i] + off)) throw new Error("mapping differs from the definition");
  if (fn.inverse(values[i]) !== BigInt.asUintN(56, values[i] - off)) throw new Error("inverse differs from the definition");
}
console.log(`CNTVOFF mapping, w = 56, ${N} values (baseline: BigInt.asUintN(56, g + off) = ${fmt(bare)} ns/value)`);
console.log(`  guestToHost (validated): ${fmt(fwd)} ns/value = ${fmt(fwd / bare)}× baseline`);
console.log(`  hostToGuest (validated): ${fmt(inv)} ns/value = ${fmt(inv / bare)}× baseline`);
console.log(`  mapping function (what convert calls) forward: ${fmt(fnFwd)} ns/value = ${fmt(fnFwd / bare)}× baseline, inverse: ${fmt(fnInv)} ns/value = ${fmt(fnInv / bare)}× baseline`);

// ------------------------------------------------------- device-tree walk
const snapshot = join(repo, "..", "shared", "fixtures", "machines", "rootfs__hisilicon-hi3519dv500-demo");
if (!existsSync(snapshot)) {
  console.log("device-tree walk: skipped (../shared/fixtures absent)");
} else {
  const base = join(snapshot, "sys/firmware/devicetree/base");
  let entries = 0;
  const rawWalk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      entries++;
      if (statSync(p).isDirectory()) rawWalk(p);
    }
  };
  const RUNS = 200;
  const raw = best(5, () => { for (let r = 0; r < RUNS; r++) rawWalk(base); }) / RUNS;
  const view = new DirectorySystemView(snapshot, false);
  const walk = best(5, () => { for (let r = 0; r < RUNS; r++) findDeviceTreeTimers(view); }) / RUNS;
  const probes = [new ArchProbe(), new KernelClocksourceProbe(), new ArmCpuProbe(), new ArmTimerProbe(unavailableReader("bench"))];
  const full = best(5, () => {
    for (let r = 0; r < RUNS; r++) {
      const facts = new FactSet();
      for (const p of probes) facts.add(...p.probe(view, facts));
    }
  }) / RUNS;
  console.log(`device tree of ${snapshot.split("/").pop()} (${entries / (5 * RUNS)} entries; baseline: recursive readdir+stat = ${fmt(raw / 1000)} µs)`);
  console.log(`  findDeviceTreeTimers (walk + decode): ${fmt(walk / 1000)} µs = ${fmt(walk / raw)}× baseline`);
  console.log(`  core arch/clocksource + Arm probes (whole snapshot): ${fmt(full / 1000)} µs = ${fmt(full / raw)}× baseline`);
}
if (sink === -1n) console.log("");
