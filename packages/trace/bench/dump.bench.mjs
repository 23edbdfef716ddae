// `clocksource trace dump FILE > /dev/null` next to `trace-cmd report FILE > /dev/null`
// on the same trace.dat of >= 1M events, in the same run (interleaved, best of RUNS):
// the ratio dump / report is the figure (goal <= 1.0). Both print every event; the
// dump writes JSON lines with every field. Also: the dump's peak RSS on the file and
// on a quarter of it (memory must not grow with the file), and the dump's own parts
// (reading alone, reading + encoding) in this process, and CPU time beside wall time
// (with /usr/bin/time).
//
// The files are recorded here (root, tracefs, trace-cmd) in a tracefs instance of our
// own (removed after) and kept in the temp directory for the next run:
// trace_marker writes in a loop plus sched_switch.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordMarkers } from "./tracefs-extract.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TRACEFS = "/sys/kernel/tracing";
const CLI = join(root, "packages/cli/bin/clocksource.cjs");
const EVENTS = Number(process.env.BENCH_DUMP_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_DUMP_RUNS ?? 3);
const TIME = "/usr/bin/time";

function skip(reason) {
  console.log(`dump bench skipped: ${reason}`);
  process.exit(0);
}
if (!existsSync(join(root, "packages/cli/dist/main.js"))) skip("build first (npx tsc -b)");
if (spawnSync("trace-cmd", ["--version"]).error) skip("trace-cmd is not installed");

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

/** Records `events` trace_marker writes (+ sched_switch) into `out` (trace.dat v7 zstd, as trace-cmd extract writes). */
function record(events, out) {
  if (process.getuid?.() !== 0) skip("recording needs root (tracefs instance)");
  if (!existsSync(join(TRACEFS, "instances"))) skip(`${TRACEFS} is not mounted`);
  const scratch = mkdtempSync(join(tmpdir(), "clocksource-dump-bench-"));
  const tmp = `${out}.tmp-${process.pid}`;
  recordMarkers(events, "clocksource dump bench", tmp, scratch);
  renameSync(tmp, out);
}

/** Runs a command with stdout to /dev/null; wall time, and peak RSS when /usr/bin/time is there. */
function timed(cmd, args) {
  const useTime = existsSync(TIME);
  const null_ = openSync("/dev/null", "w");
  try {
    const t0 = process.hrtime.bigint();
    const r = useTime
      ? spawnSync(TIME, ["-f", "%M %U %S", cmd, ...args], { stdio: ["ignore", null_, "pipe"], encoding: "utf8" })
      : spawnSync(cmd, args, { stdio: ["ignore", null_, "pipe"], encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${String(r.stderr).slice(0, 300)}`);
    const [kib, user, sys] = useTime ? String(r.stderr).trim().split("\n").pop().split(" ").map(Number) : [NaN, NaN, NaN];
    return { ms, rssMiB: kib / 1024, cpuMs: (user + sys) * 1000 };
  } finally {
    closeSync(null_);
  }
}

/** The dump's parts in this process: reading alone, reading + encoding every event (the dump's byte encoder, chunks dropped). */
async function parts(path) {
  const { openTrace, EventLineBytes } = await import(join(root, "packages/trace/dist/index.js"));
  const out = {};
  for (const mode of ["read", "read+encode"]) {
    const t0 = process.hrtime.bigint();
    const r = await openTrace(path);
    let bytes = 0;
    const enc = new EventLineBytes("bench", () => "mono", (chunk) => ((bytes += chunk.length), true));
    let n = 0;
    for await (const b of r.batches()) {
      n += b.length;
      if (mode !== "read") for (const e of b) enc.write(e);
    }
    enc.flush();
    await r.close();
    out[mode] = { ms: Number(process.hrtime.bigint() - t0) / 1e6, n, bytes };
  }
  return out;
}

const big = process.env.BENCH_DUMP_FILE ?? join(tmpdir(), `clocksource-bench-dump-${EVENTS}.dat`);
const quarter = join(tmpdir(), `clocksource-bench-dump-${Math.floor(EVENTS / 4)}.dat`);
for (const [file, n] of [[big, EVENTS], [quarter, Math.floor(EVENTS / 4)]]) {
  if (!existsSync(file)) {
    const t0 = Date.now();
    record(n, file);
    console.log(`recorded ${file}: ${n} trace_marker writes + sched_switch in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

// v6 as well: trace-cmd extract writes v7 zstd, and zstd decompression (a JavaScript
// implementation on Node < 22.15) is a cost of its own.
const big6 = big.replace(/\.dat$/, "-v6.dat");
if (!existsSync(big6)) run("trace-cmd", ["convert", "--file-version", "6", "-i", big, "-o", big6]);

for (const [label, file] of [["v7 zstd", big], ["v6", big6]]) {
  let dump = Infinity;
  let report = Infinity;
  let dumpRss = 0;
  let reportRss = 0;
  let dumpCpu = Infinity;
  let reportCpu = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const d = timed(process.execPath, [CLI, "trace", "dump", file]);
    const t = timed("trace-cmd", ["report", file]);
    dump = Math.min(dump, d.ms);
    report = Math.min(report, t.ms);
    dumpCpu = Math.min(dumpCpu, d.cpuMs);
    reportCpu = Math.min(reportCpu, t.cpuMs);
    dumpRss = Math.max(dumpRss, d.rssMiB);
    reportRss = Math.max(reportRss, t.rssMiB);
  }
  const p = await parts(file);
  const n = p.read.n;
  if (n < EVENTS) throw new Error(`read ${n} events, fewer than the ${EVENTS} written`);
  console.log(`trace.dat ${label}, ${n} events: clocksource trace dump ${dump.toFixed(0)} ms (${((dump * 1e6) / n).toFixed(0)} ns/event), trace-cmd report ${report.toFixed(0)} ms; ratio ${(dump / report).toFixed(2)}x (goal <= 1.0)`);
  // CPU time (user + system) is steadier than wall time on a shared, loaded machine.
  console.log(`  CPU time: dump ${dumpCpu.toFixed(0)} ms, trace-cmd report ${reportCpu.toFixed(0)} ms; ratio ${(dumpCpu / reportCpu).toFixed(2)}x`);
  console.log(`  in process: read ${p.read.ms.toFixed(0)} ms, read + encode ${p["read+encode"].ms.toFixed(0)} ms (${(p["read+encode"].bytes / 2 ** 20).toFixed(0)} MiB of JSON); peak RSS: dump ${dumpRss.toFixed(0)} MiB, trace-cmd report ${reportRss.toFixed(0)} MiB`);
}
const small = timed(process.execPath, [CLI, "trace", "dump", quarter]);
const whole = timed(process.execPath, [CLI, "trace", "dump", big]);
console.log(`  constant memory: dump peak RSS ${small.rssMiB.toFixed(0)} MiB on ${Math.floor(EVENTS / 4)} events, ${whole.rssMiB.toFixed(0)} MiB on ${EVENTS}`);
