// `clocksource merge` of two traces of >= 1M events each, writing Perfetto, next to
// `trace-cmd report -i a.dat -i b.dat --ts-offset N > /dev/null` on the same files, in
// the same run (interleaved, best of RUNS): the ratio merge / report is the figure
// (goal <= 1.0). Both order every event of both files by the corrected time; the merge
// also maps it, writes a Perfetto trace and keeps each event's uncertainty. Outputs are
// checked first: the merge's event count must equal the report's line count.
//
// The traces are recorded here (root, tracefs, trace-cmd, gcc) with the x86-tsc clock in
// tracefs instances of our own (removed after): trace_marker writes from a small C loop
// pinned to each CPU. They are kept in the temp directory for the next run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { extractInstances, removeInstance } from "./tracefs-extract.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TRACEFS = "/sys/kernel/tracing";
const CLI = join(root, "packages/cli/bin/clocksource.cjs");
const EVENTS = Number(process.env.BENCH_MERGE_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_MERGE_RUNS ?? 3);
const OFFSET = 123_457n;

function skip(reason) {
  console.log(`merge bench skipped: ${reason}`);
  process.exit(0);
}
if (!existsSync(join(root, "packages/cli/dist/main.js"))) skip("build first (npx tsc -b)");
if (process.arch !== "x64") skip("the recording uses the x86-tsc trace clock");
for (const tool of ["trace-cmd", "gcc", "taskset", "unshare"]) if (spawnSync(tool, ["--version"]).error) skip(`${tool} is not installed`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, ...opts });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? r.stderr}`);
  return r;
}

const WRITER_C = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int fd = open(argv[1], O_WRONLY); long n = atol(argv[2]); char b[64];
  if (fd < 0) { perror(argv[1]); return 1; }
  for (long i = 0; i < n; i++) { int l = snprintf(b, sizeof b, "merge bench %ld", i); if (write(fd, b, l) != l) { perror("write"); return 1; } }
  return 0;
}`;

/** Records `events` trace_marker writes, spread over the CPUs, into `out` (v7 zstd, as trace-cmd extract writes it). */
function record(events, out, scratch) {
  if (process.getuid?.() !== 0) skip("recording needs root (tracefs instances)");
  if (!existsSync(join(TRACEFS, "instances"))) skip(`${TRACEFS} is not mounted`);
  const writer = join(scratch, "writer");
  if (!existsSync(writer)) {
    writeFileSync(`${writer}.c`, WRITER_C);
    run("gcc", ["-O2", "-o", writer, `${writer}.c`]);
  }
  const name = `clocksource-merge-bench-${process.pid}`;
  const inst = join(TRACEFS, "instances", name);
  mkdirSync(inst);
  try {
    const cpus = Math.min(2, availableParallelism());
    writeFileSync(join(inst, "buffer_size_kb"), String(Math.ceil((events * 64) / 1024 / cpus) + 4096));
    writeFileSync(join(inst, "trace_clock"), "x86-tsc");
    writeFileSync(join(inst, "tracing_on"), "1");
    const per = Math.ceil(events / cpus);
    const procs = Array.from({ length: cpus }, (_, c) => spawnSync("taskset", ["-c", String(c), writer, join(inst, "trace_marker"), String(per)]));
    for (const p of procs) if (p.status !== 0) throw new Error(`marker writer: ${p.stderr}`);
    writeFileSync(join(inst, "tracing_on"), "0");
    extractInstances([name], out, scratch);
  } finally {
    removeInstance(inst);
  }
}

const dir = join(tmpdir(), `clocksource-merge-bench-${EVENTS}`);
mkdirSync(dir, { recursive: true });
const files = ["a.dat", "b.dat"].map((f) => join(dir, f));
for (const f of files) if (!existsSync(f) || statSync(f).size === 0) record(EVENTS, f, mkdtempSync(join(tmpdir(), "clocksource-merge-rec-")));

const pf = join(dir, "merged.pftrace");
const mergeArgs = [CLI, "merge", `host=${files[0]}`, `vm1=${files[1]}`, "--offset", `vm1=${OFFSET}`, "--target-hz", "2000000000", "-o", pf];
const reportArgs = ["report", "-i", files[0], "-i", files[1], "--ts-offset", String(OFFSET)];

// Check the outputs before timing anything.
const merged = run(process.execPath, mergeArgs);
const total = Number(/^merge: (\d+) events/m.exec(merged.stderr)?.[1] ?? NaN);
// Event lines carry "[cpu]" then the timestamp; counted by grep so the report is not held in memory.
const reportLines = Number(run("sh", ["-c", `trace-cmd ${reportArgs.map((a) => `'${a}'`).join(" ")} 2>/dev/null | grep -c '\\[[0-9]*\\] *[0-9]'`]).stdout.trim());
if (total !== reportLines) {
  console.log(`merge bench: MISMATCH: merge placed ${total} events, trace-cmd report printed ${reportLines}`);
  process.exit(1);
}

const TIME = "/usr/bin/time";
const haveTime = existsSync(TIME);

/** Wall seconds, and CPU seconds (user + sys, from /usr/bin/time) when available: CPU is steadier on a shared machine. */
function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = haveTime ? spawnSync(TIME, ["-f", "%U %S %M", cmd, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" }) : spawnSync(cmd, args, { stdio: ["ignore", "ignore", "ignore"] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = haveTime ? /(\d+\.\d+) (\d+\.\d+) (\d+)\s*$/.exec(r.stderr) : null;
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, rssMiB: m ? Number(m[3]) / 1024 : NaN };
}
// The other formats, to /dev/null (the file's name does not choose the format there: -f does).
const OTHER_FORMATS = ["jsonl", "text", "chrome"];
const otherArgs = (f) => [...mergeArgs.slice(0, -2), "-o", "/dev/null", "-f", f];
const best = { merge: { wall: Infinity, cpu: Infinity, rssMiB: 0 }, report: { wall: Infinity, cpu: Infinity, rssMiB: 0 } };
for (const f of OTHER_FORMATS) best[f] = { wall: Infinity, cpu: Infinity, rssMiB: 0 };
const keep = (k, t) => {
  best[k] = { wall: Math.min(best[k].wall, t.wall), cpu: Math.min(best[k].cpu, t.cpu), rssMiB: Math.max(best[k].rssMiB, t.rssMiB) };
};
for (let r = 0; r < RUNS; r++) {
  keep("report", timed("sh", ["-c", `trace-cmd ${reportArgs.map((a) => `'${a}'`).join(" ")} > /dev/null 2>&1`]));
  keep("merge", timed(process.execPath, mergeArgs));
  for (const f of OTHER_FORMATS) keep(f, timed(process.execPath, otherArgs(f)));
}
const rate = (total / best.merge.wall / 1e6).toFixed(2);
const cpu = (t) => (Number.isNaN(t.cpu) ? "" : `, ${t.cpu.toFixed(2)} s CPU`);
console.log(`merge of 2 traces, ${total} events (${(statSync(files[0]).size / 2 ** 20).toFixed(1)} + ${(statSync(files[1]).size / 2 ** 20).toFixed(1)} MiB, v7 zstd) into Perfetto (${(statSync(pf).size / 2 ** 20).toFixed(0)} MiB)`);
console.log(`  clocksource merge        ${best.merge.wall.toFixed(2)} s${cpu(best.merge)} (${rate} M events/s${Number.isNaN(best.merge.rssMiB) ? "" : `, peak RSS ${best.merge.rssMiB.toFixed(0)} MiB`})`);
console.log(`  trace-cmd report -i -i   ${best.report.wall.toFixed(2)} s${cpu(best.report)} (baseline, same run)`);
console.log(`  ratio merge / report     ${(best.merge.wall / best.report.wall).toFixed(2)} wall${Number.isNaN(best.merge.cpu) ? "" : `, ${(best.merge.cpu / best.report.cpu).toFixed(2)} CPU`}  (goal <= 1.0)`);
for (const f of OTHER_FORMATS) {
  console.log(`  merge -f ${f.padEnd(6)} > /dev/null ${best[f].wall.toFixed(2)} s${cpu(best[f])}: ratio ${(best[f].wall / best.report.wall).toFixed(2)} wall${Number.isNaN(best[f].cpu) ? "" : `, ${(best[f].cpu / best.report.cpu).toFixed(2)} CPU`}`);
}
rmSync(pf, { force: true });
