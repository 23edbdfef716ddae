/**
 * Test support: records real trace.dat files on this machine.
 *
 * `trace-cmd record` cannot run here (the function tracer is locked), so the
 * tracefs is set up by hand in an instance of our own: its trace_clock, its
 * events, `trace_marker` writes of known text pinned to given CPUs; then
 * `trace-cmd extract -B INSTANCE` writes the file (version 7, zstd) and
 * `trace-cmd convert` gives version 6 and version 7 uncompressed. The instance
 * is always removed.
 *
 * Some things are done in a private mount namespace (`unshare -m`, so nothing
 * outside it sees them) because trace-cmd 3.1.6 would otherwise write what is
 * not so or what is too big for a committed file:
 * - it names the top-level buffer's trace_clock as every buffer's clock, so the
 *   instance's `trace_clock` is bind-mounted over the top-level one;
 * - it drains the top-level buffer too, so that one is replaced by empty files;
 * - with `minimal`, only the recorded events' `format` files are visible and
 *   /proc/kallsyms is empty, so the file stays a few KiB (the events and their
 *   pages are untouched).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { extractInstances, removeInstance, TRACEFS } from "./tracefs-instances.mjs";

export { extractInstances, removeInstance, TRACEFS };

/** Whether recording can run here; `reason` says what is missing when not. */
export function tracefsRecordSupport(clock?: string): { ok: boolean; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: "not Linux" };
  if (typeof process.getuid === "function" && process.getuid() !== 0) return { ok: false, reason: "needs root (tracefs instances)" };
  if (!existsSync(join(TRACEFS, "instances"))) return { ok: false, reason: `${TRACEFS} is not mounted` };
  try {
    accessSync(join(TRACEFS, "instances"), constants.W_OK);
  } catch {
    return { ok: false, reason: `${TRACEFS}/instances is not writable` };
  }
  for (const tool of ["trace-cmd", "taskset", "unshare"]) {
    const r = spawnSync(tool, ["--version"], { encoding: "utf8", timeout: 10_000 });
    if (r.error) return { ok: false, reason: `${tool} is not installed` };
  }
  if (clock !== undefined) {
    const clocks = readFileSync(join(TRACEFS, "trace_clock"), "utf8").replace(/[[\]]/g, "").split(/\s+/);
    if (!clocks.includes(clock)) return { ok: false, reason: `trace_clock ${clock} is not offered by this kernel` };
  }
  return { ok: true, reason: "" };
}

/** Online CPUs we may pin writers to (at most `n`). */
export function markerCpus(n: number): number[] {
  const count = Math.max(1, Math.min(n, availableParallelism()));
  return Array.from({ length: count }, (_, i) => i);
}

export interface RecordOptions {
  /** The trace_clock of the instance(s). */
  readonly clock: string;
  /** Events to enable, as `system/event` (`sched/sched_switch`). `ftrace/print` needs no enabling. */
  readonly events: readonly string[];
  /** trace_marker writes, each from a process pinned to `cpu` (becomes an `ftrace:print` event). */
  readonly markers: readonly { readonly cpu: number; readonly text: string }[];
  /** Event filters (tracefs `events/<system>/<event>/filter` syntax), by `system/event`. */
  readonly filters?: Readonly<Record<string, string>>;
  /** Per-CPU ring-buffer size; small sizes make the kernel drop events (lost-event markers). */
  readonly bufferSizeKb?: number;
  /** Number of instances recorded into one file (each gets the same setup). Default 1. */
  readonly buffers?: number;
  /** Keep only the recorded events' formats and an empty kallsyms (for committed files). */
  readonly minimal?: boolean;
}

export interface Recording {
  /** trace-cmd extract's output: version 7, zstd. */
  readonly v7zstd: string;
  readonly v7none: string;
  readonly v6: string;
  /** Instance names, as trace-cmd reports them. */
  readonly buffers: readonly string[];
}

function run(cmd: string, args: readonly string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status} ${r.signal ?? ""}`}): ${(r.stderr ?? "").slice(0, 2000)} ${(r.stdout ?? "").slice(0, 2000)}`);
  return r.stdout;
}

let counter = 0;

/**
 * Records into fresh tracefs instance(s) and writes `<dir>/<base>-v7-zstd.dat`,
 * `-v7-none.dat` and `-v6.dat`. Throws when a step fails; the instances are
 * removed in every case.
 */
export function recordTraceDat(dir: string, base: string, o: RecordOptions): Recording {
  const n = o.buffers ?? 1;
  const names = Array.from({ length: n }, (_, i) => `clocksource-trace-h5-${process.pid}-${++counter}-${i}`);
  const dirs = names.map((nm) => join(TRACEFS, "instances", nm));
  const scratch = mkdtempSync(join(tmpdir(), "clocksource-tracefs-"));
  try {
    for (const d of dirs) {
      mkdirSync(d);
      writeFileSync(join(d, "tracing_on"), "0");
      writeFileSync(join(d, "trace_clock"), o.clock);
      if (o.bufferSizeKb !== undefined) writeFileSync(join(d, "buffer_size_kb"), String(o.bufferSizeKb));
      for (const [ev, filter] of Object.entries(o.filters ?? {})) writeFileSync(join(d, "events", ev, "filter"), filter);
      for (const ev of o.events) writeFileSync(join(d, "events", ev, "enable"), "1");
    }
    for (const d of dirs) writeFileSync(join(d, "tracing_on"), "1");
    // Runs of markers on one CPU are written by one pinned shell, to every instance's trace_marker.
    const targets = dirs.map((d) => join(d, "trace_marker")).join(" ");
    for (let i = 0; i < o.markers.length; ) {
      const cpu = (o.markers[i] as { cpu: number }).cpu;
      let j = i;
      while (j < o.markers.length && (o.markers[j] as { cpu: number }).cpu === cpu) j++;
      const texts = o.markers.slice(i, j).map((m) => m.text);
      const r = spawnSync("taskset", ["-c", String(cpu), "sh", "-c", 'for m in "$@"; do for f in $TARGETS; do printf "%s" "$m" > "$f"; done; done', "sh", ...texts], {
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, TARGETS: targets },
      });
      if (r.error || r.status !== 0) throw new Error(`pinned trace_marker writes failed: ${r.error?.message ?? r.stderr}`);
      i = j;
    }
    for (const d of dirs) writeFileSync(join(d, "tracing_on"), "0");

    const raw = join(dir, `${base}-v7-zstd.dat`);
    const mounts: string[] = [];
    if (o.minimal) {
      const ev = join(scratch, "events");
      mkdirSync(ev);
      // tracefs files report a size of 0, so they are read, not copied.
      const copy = (rel: string): void => writeFileSync(join(ev, rel), readFileSync(join(TRACEFS, "events", rel)));
      copy("header_page");
      copy("header_event");
      for (const e of ["ftrace/print", ...o.events]) {
        mkdirSync(join(ev, e), { recursive: true });
        copy(join(e, "format"));
      }
      const ks = join(scratch, "kallsyms");
      writeFileSync(ks, "");
      mounts.push(`mount --bind '${ev}' '${TRACEFS}/events'`, `mount --bind '${ks}' /proc/kallsyms`);
    }
    extractInstances(names, raw, scratch, mounts);
    const v7none = join(dir, `${base}-v7-none.dat`);
    const v6 = join(dir, `${base}-v6.dat`);
    // Convert to an explicit zstd too, so the file does not depend on trace-cmd's default.
    const v7zstd = join(dir, `${base}-v7-zstd.dat`);
    const tmp = join(scratch, "extracted.dat");
    copyFileSync(raw, tmp);
    run("trace-cmd", ["convert", "--file-version", "7", "--compression", "zstd", "-i", tmp, "-o", v7zstd], "trace-cmd convert (v7 zstd)");
    run("trace-cmd", ["convert", "--file-version", "7", "--compression", "none", "-i", tmp, "-o", v7none], "trace-cmd convert (v7 none)");
    run("trace-cmd", ["convert", "--file-version", "6", "-i", tmp, "-o", v6], "trace-cmd convert (v6)");
    return { v7zstd, v7none, v6, buffers: names };
  } finally {
    for (const d of dirs) removeInstance(d);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `trace-cmd report --raw-ts -R FILE`: raw timestamps, fields as name=value. */
export function traceCmdReport(file: string): string {
  return run("trace-cmd", ["report", "--raw-ts", "-R", file], "trace-cmd report");
}

/** One event line of `trace-cmd report --raw-ts -R`. */
export interface ReportLine {
  readonly buffer: string;
  readonly comm: string;
  readonly pid: number;
  readonly cpu: number;
  readonly ts: bigint;
  readonly event: string;
  /** The text after the event name (fields as `name=value`). */
  readonly rest: string;
}

/** A `CPU:N [COUNT EVENTS DROPPED]` line. */
export interface ReportLost {
  readonly buffer: string;
  readonly cpu: number;
  readonly count: number | null;
}

const EVENT_LINE = /^(?:(\S+): )?\s*(.*)-(\d+)\s+\[(\d+)\]\s*(\d+): ([^:\s]+):\s*(.*)$/;
const LOST_LINE = /^(?:(\S+): )?CPU:(\d+) \[(?:(\d+) )?EVENTS DROPPED\]$/;

/**
 * Parses the report's event and lost-event lines. A `print` event's text
 * ends with the newline the kernel adds, so its line is followed by an empty
 * one: empty lines are dropped.
 */
export function parseReport(text: string): { events: ReportLine[]; lost: ReportLost[] } {
  const events: ReportLine[] = [];
  const lost: ReportLost[] = [];
  // After a lost-events line the report prints the next event without its buffer prefix.
  let carried: string | null = null;
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("cpus=")) continue;
    const l = LOST_LINE.exec(line.trim());
    if (l) {
      lost.push({ buffer: l[1] ?? "", cpu: Number(l[2]), count: l[3] === undefined ? null : Number(l[3]) });
      carried = l[1] ?? null;
      continue;
    }
    const m = EVENT_LINE.exec(line);
    if (!m) throw new Error(`unparsed report line: ${JSON.stringify(line)}`);
    const buffer = m[1] ?? carried ?? "";
    carried = null;
    events.push({ buffer, comm: (m[2] as string).trim(), pid: Number(m[3]), cpu: Number(m[4]), ts: BigInt(m[5] as string), event: m[6] as string, rest: m[7] as string });
  }
  return { events, lost };
}

/**
 * Splits `a=1 b=two words c=3` by the field names in order (values may hold
 * spaces, as comms do).
 */
export function splitRawFields(rest: string, names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  for (let i = 0; i < names.length; i++) {
    const key = `${names[i]}=`;
    if (!rest.startsWith(key, pos)) throw new Error(`field ${names[i]} not at ${pos} of ${JSON.stringify(rest)}`);
    const start = pos + key.length;
    const nextKey = i + 1 < names.length ? ` ${names[i + 1]}=` : null;
    const end = nextKey === null ? rest.length : rest.indexOf(nextKey, start);
    if (end < 0) throw new Error(`field ${names[i + 1]} missing in ${JSON.stringify(rest)}`);
    out.set(names[i] as string, rest.slice(start, end));
    pos = end + 1;
  }
  return out;
}
