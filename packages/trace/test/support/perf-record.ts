/**
 * Records real perf.data files on this machine with `perf record` and reads
 * them back with `perf script`, for the tests that compare our reader with
 * perf one for one. `perfStatus()` says why recording is impossible (no perf,
 * no privilege, no tracefs) so that the tests skip with that reason.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const TRACEFS = "/sys/kernel/tracing";

/** Whether `perf record` of tracepoints and CPU samples works here, and why not. */
export function perfStatus(): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  const v = spawnSync("perf", ["version"], { encoding: "utf8" });
  if (v.error || v.status !== 0) return { ok: false, reason: "perf is not installed (Debian: apt-get install linux-perf)" };
  if (process.getuid?.() !== 0) {
    let paranoid = 2;
    try {
      paranoid = Number(readFileSync("/proc/sys/kernel/perf_event_paranoid", "utf8").trim());
    } catch {
      // unreadable: assume the default
    }
    if (paranoid > -1) return { ok: false, reason: `recording tracepoints system-wide needs root (or perf_event_paranoid ≤ -1, it is ${paranoid})` };
  }
  if (!existsSync(`${TRACEFS}/events/sched/sched_switch`)) return { ok: false, reason: `tracefs is not mounted at ${TRACEFS}` };
  return { ok: true };
}

/** What to record. */
export interface PerfRecordOptions {
  /** Output file. */
  readonly out: string;
  /** `-e` events. */
  readonly events: readonly string[];
  /** More `perf record` options (`-a`, `-k CLOCK_MONOTONIC`, `-c 100000`, …). */
  readonly options?: readonly string[];
  /** The command perf runs (and records, with its children). */
  readonly workload: readonly string[];
  /** Pipe mode: `perf record -o -`, stdout written to `out`. */
  readonly pipe?: boolean;
}

/** Runs `perf record`; throws with perf's stderr when it fails. */
export function perfRecord(o: PerfRecordOptions): void {
  const args = ["record", "-q", ...o.events.flatMap((e) => ["-e", e]), ...(o.options ?? []), "-o", o.pipe ? "-" : o.out, "--", ...o.workload];
  const r = spawnSync("perf", args, { maxBuffer: 256 << 20, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`perf ${args.join(" ")} failed (${r.status ?? r.signal}): ${String(r.stderr).trim()}`);
  if (o.pipe) writeFileSync(o.out, r.stdout);
}

/** Runs `perf script -i file --ns` with more arguments (`-F` lists, `--show-task-events`) and returns its text. */
export function perfScript(file: string, args: readonly string[]): string {
  const r = spawnSync("perf", ["script", "-i", file, "--ns", ...args], { encoding: "utf8", maxBuffer: 1 << 30, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`perf script -i ${file} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** One line of `perf script --ns -F comm,pid,tid,cpu,time,event[,ip][,trace]`. */
export interface ScriptLine {
  readonly comm: string;
  readonly pid: number;
  readonly tid: number;
  readonly cpu: number;
  /** The timestamp in ns, exact (perf prints `sec.nsec`). */
  readonly ts: bigint;
  readonly event: string;
  /** What follows the event name: the ip (hex) and/or the tracepoint's formatted fields. */
  readonly rest: string;
  /** 1-based line in the text, for messages. */
  readonly line: number;
}

// comm (right-aligned, may hold spaces) pid/tid [cpu] sec.nsec: event: rest
const LINE = /^\s*(.*?)\s+(-?\d+)\/(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+(\S+?):(?:\s+(.*))?$/;

/** Parses `perf script` text; lines that are not events (task-event lines included) are left out. */
export function parsePerfScript(text: string): ScriptLine[] {
  const out: ScriptLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l.trim() === "" || l.includes("PERF_RECORD_")) continue;
    const m = LINE.exec(l);
    if (!m) throw new Error(`perf script line ${i + 1} does not parse: ${JSON.stringify(l)}`);
    out.push({
      comm: m[1] as string,
      pid: Number(m[2]),
      tid: Number(m[3]),
      cpu: Number(m[4]),
      ts: BigInt(m[5] as string) * 1_000_000_000n + BigInt(m[6] as string),
      event: m[7] as string,
      rest: (m[8] ?? "").trim(),
      line: i + 1,
    });
  }
  return out;
}

/** A task-event line of `perf script --show-task-events`: `PERF_RECORD_COMM[ exec]: comm:pid/tid`, `PERF_RECORD_FORK(pid:tid):(ppid:ptid)`, `PERF_RECORD_EXIT(…)`. */
export interface TaskLine {
  readonly kind: "comm" | "fork" | "exit";
  readonly ts: bigint;
  readonly cpu: number;
  readonly pid: number;
  readonly tid: number;
  /** COMM: the new name; FORK/EXIT: the parent `ppid:ptid`. */
  readonly value: string;
}

const TASK = /\[(\d+)\]\s+(\d+)\.(\d{9}):\s+PERF_RECORD_(COMM|FORK|EXIT)(?: exec)?(?::\s+(.*):(-?\d+)\/(-?\d+)|\((-?\d+):(-?\d+)\):\((-?\d+):(-?\d+)\))\s*$/;

/** Parses the task-event lines of `perf script --show-task-events` output. */
export function parseTaskEvents(text: string): TaskLine[] {
  const out: TaskLine[] = [];
  for (const l of text.split("\n")) {
    if (!l.includes("PERF_RECORD_COMM") && !l.includes("PERF_RECORD_FORK") && !l.includes("PERF_RECORD_EXIT")) continue;
    const m = TASK.exec(l);
    if (!m) throw new Error(`task event line does not parse: ${JSON.stringify(l)}`);
    const ts = BigInt(m[2] as string) * 1_000_000_000n + BigInt(m[3] as string);
    const kind = (m[4] as string).toLowerCase() as TaskLine["kind"];
    if (kind === "comm") out.push({ kind, ts, cpu: Number(m[1]), pid: Number(m[6]), tid: Number(m[7]), value: m[5] as string });
    else out.push({ kind, ts, cpu: Number(m[1]), pid: Number(m[8]), tid: Number(m[9]), value: `${m[10]}:${m[11]}` });
  }
  return out;
}

/**
 * `key=value` pairs of a tracepoint's formatted text (`prev_comm=sh prev_pid=12 …`).
 * Values end at the next ` key=`; `==>` separators are dropped.
 */
export function parseTraceText(rest: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(\w+)=(.*?)(?=\s+(?:==>\s+)?\w+=|\s*$)/g;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) out.set(m[1] as string, (m[2] as string).trim());
  return out;
}

/** How the kernel's `sched_switch` print fmt shows `prev_state` (its `__print_flags` table, `R` for 0, `+` for preemption). */
export function formatPrevState(state: bigint): string {
  const mask = 0x7fn; // TASK_REPORT_MAX - 1 = the reported states below 0x80
  const s = state & ((((mask + 1n) << 1n)) - 1n);
  const letters: [bigint, string][] = [
    [0x1n, "S"],
    [0x2n, "D"],
    [0x4n, "T"],
    [0x8n, "t"],
    [0x10n, "X"],
    [0x20n, "Z"],
    [0x40n, "P"],
    [0x80n, "I"],
  ];
  let text = s === 0n ? "R" : letters.filter(([bit]) => (s & bit) !== 0n).map(([, l]) => l).join("|");
  if ((state & ((mask + 1n) << 1n)) !== 0n) text += "+";
  return text;
}

/** A workload of known commands on more than one CPU: two execs, then two busy loops side by side. */
export const KNOWN_WORKLOAD: readonly string[] = [
  "/bin/sh",
  "-c",
  '/bin/true h6-first; /bin/true h6-second; timeout 0.2 sh -c "while :; do :; done" & timeout 0.2 sh -c "while :; do :; done"; wait',
];
