/**
 * Test support: records tracefs text on this machine — the `trace` file of a
 * fresh instance of our own, and optionally its `trace_pipe` — with what the
 * kernel itself says about the recording, as the expectation: per-CPU entry
 * counts (`per_cpu/cpuN/stats`) and the pid, CPU and text of every
 * `trace_marker` write (each writer prints its own pid). The instance is
 * always removed. (Recording trace.dat files is `tracefs-record.ts`'s job.)
 */
import { spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeInstance, TRACEFS } from "./tracefs-instances.mjs";

export { TRACEFS };

/** Whether tracefs text can be recorded here; `reason` says what is missing. */
export function tracefsTextSupport(): { ok: boolean; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: "not Linux" };
  if (process.getuid?.() !== 0) return { ok: false, reason: "needs root (tracefs instances)" };
  if (!existsSync(join(TRACEFS, "instances"))) return { ok: false, reason: `${TRACEFS} is not mounted` };
  if (spawnSync("taskset", ["--version"]).error) return { ok: false, reason: "taskset is not installed" };
  return { ok: true, reason: "" };
}

export interface TextRecordOptions {
  readonly clock: string;
  /** `system/event` → filter ("" for none). */
  readonly events: Readonly<Record<string, string>>;
  /** `options/NAME` values to set (`irq-info`, `record-tgid`). */
  readonly traceOptions?: Readonly<Record<string, 0 | 1>>;
  readonly markers: readonly { readonly cpu: number; readonly text: string }[];
  /** Also read `trace_pipe` (non-blocking, after `trace`). */
  readonly pipe?: boolean;
}

export interface TextRecording {
  /** The `trace` file's text. */
  readonly trace: string;
  /** The `trace_pipe` text, when asked for. */
  readonly pipe: string | null;
  /** Marker writes with the pid of the process that wrote each. */
  readonly markers: readonly { readonly cpu: number; readonly text: string; readonly pid: number }[];
  /** The kernel's count of events in the buffer, per CPU (`entries:` of `per_cpu/cpuN/stats`). */
  readonly entries: Readonly<Record<number, number>>;
}

let counter = 0;

/** Reads a tracefs file that blocks when empty (`trace_pipe`) without blocking: until EAGAIN, at most 64 MiB. */
function readNonBlocking(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const parts: Buffer[] = [];
  let total = 0;
  try {
    const buf = Buffer.alloc(1 << 16);
    while (total < 64 << 20) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") break;
        throw e;
      }
      if (n === 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
      total += n;
    }
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** Records into a fresh instance; throws when a step fails; the instance is removed in every case. */
export function recordTracefsText(o: TextRecordOptions): TextRecording {
  const dir = join(TRACEFS, "instances", `clocksource-trace-h7-${process.pid}-${++counter}`);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, "tracing_on"), "0");
    writeFileSync(join(dir, "trace_clock"), o.clock);
    for (const [name, v] of Object.entries(o.traceOptions ?? {})) writeFileSync(join(dir, "options", name), String(v));
    for (const [ev, filter] of Object.entries(o.events)) {
      if (filter !== "") writeFileSync(join(dir, "events", ev, "filter"), filter);
      writeFileSync(join(dir, "events", ev, "enable"), "1");
    }
    writeFileSync(join(dir, "tracing_on"), "1");
    const markers: { cpu: number; text: string; pid: number }[] = [];
    for (const m of o.markers) {
      const r = spawnSync("taskset", ["-c", String(m.cpu), "sh", "-c", 'echo $$; printf "%s" "$1" > "$2"', "sh", m.text, join(dir, "trace_marker")], { encoding: "utf8", timeout: 30_000 });
      if (r.status !== 0) throw new Error(`pinned trace_marker write failed: ${r.stderr}`);
      markers.push({ ...m, pid: Number(r.stdout.trim()) });
    }
    writeFileSync(join(dir, "tracing_on"), "0");
    const entries: Record<number, number> = {};
    for (const c of readdirSync(join(dir, "per_cpu"))) {
      const stats = readFileSync(join(dir, "per_cpu", c, "stats"), "utf8");
      const m = /^entries: (\d+)$/m.exec(stats);
      if (m && Number(m[1]) > 0) entries[Number(c.replace("cpu", ""))] = Number(m[1]);
    }
    const trace = readFileSync(join(dir, "trace"), "utf8");
    const pipe = o.pipe ? readNonBlocking(join(dir, "trace_pipe")) : null;
    return { trace, pipe, markers, entries };
  } finally {
    removeInstance(dir);
  }
}
