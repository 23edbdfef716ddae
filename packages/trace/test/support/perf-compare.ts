/**
 * Test support: reads a perf.data with our reader and checks it, event for
 * event, against `perf script --ns` text of the same file (see perf-record.ts
 * for the fields printed and the parsers).
 */
import type { FieldValue, TraceEvent } from "../../src/model/event.js";
import { readAllOf, type ReadResult } from "./read-all.js";
export type { ReadResult } from "./read-all.js";
import { perfDataFormat } from "../../src/readers/perf-data/index.js";
import { formatPrevState, parsePerfScript, parseTaskEvents, parseTraceText, type ScriptLine } from "./perf-record.js";


/** Reads every event of a perf.data (small files only: keeps them all). */
export function readAll(path: string, batchSize?: number): Promise<ReadResult> {
  return readAllOf(perfDataFormat.open(path, batchSize === undefined ? {} : { batchSize }));
}

/**
 * The `perf script` arguments the comparisons use: tracepoints with their
 * formatted fields, software events with the ip, and the task events.
 */
export const COMPARE_ARGS = ["-F", "trace:comm,pid,tid,cpu,time,event,trace", "-F", "sw:comm,pid,tid,cpu,time,event,ip", "--show-task-events"] as const;

/** Where a print fmt names a value differently from its field (`comm=%s`, `__get_str(parent_comm)`). */
const PRINT_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "sched:sched_process_fork": { comm: "parent_comm", pid: "parent_pid" },
};

function sameField(name: string, ours: FieldValue | undefined, theirs: string): boolean {
  if (name === "prev_state" && (typeof ours === "bigint" || typeof ours === "number")) return formatPrevState(BigInt(ours)) === theirs;
  // `bool` fields print through `x ? "true" : "false"`.
  if ((theirs === "true" || theirs === "false") && typeof ours === "number") return (ours !== 0) === (theirs === "true");
  if (typeof ours === "string") return ours === theirs;
  if (typeof ours === "number" || typeof ours === "bigint") return String(ours) === theirs;
  return false;
}

/** Samples and tracepoints only (what `perf script` prints without --show-task-events). */
export function samplesOf(events: readonly TraceEvent[]): TraceEvent[] {
  return events.filter((e) => !e.name.startsWith("perf:") && e.name !== "lost");
}

/**
 * Compares our events with perf script's lines, one for one: time, CPU, pid,
 * tid, comm, event name, and the field values perf prints (tracepoint fields,
 * the ip of software events). Returns the mismatches (empty when equal).
 *
 * Order: perf breaks timestamp ties by file order, we by CPU then file order
 * (the model's rule), so perf's lines are stably sorted by (time, CPU) first.
 * A thread perf never saw named prints as `:TID`; ours is then null, or the
 * name the tracing data's saved cmdlines give.
 */
export function compareWithScript(events: readonly TraceEvent[], scriptText: string): string[] {
  const ours = samplesOf(events);
  const theirs: ScriptLine[] = parsePerfScript(scriptText)
    .map((l, i) => ({ l, i }))
    .sort((a, b) => (a.l.ts < b.l.ts ? -1 : a.l.ts > b.l.ts ? 1 : a.l.cpu - b.l.cpu || a.i - b.i))
    .map((x) => x.l);
  const bad: string[] = [];
  if (ours.length !== theirs.length) bad.push(`${ours.length} events, perf script has ${theirs.length}`);
  const n = Math.min(ours.length, theirs.length);
  for (let i = 0; i < n && bad.length < 20; i++) {
    const o = ours[i] as TraceEvent;
    const t = theirs[i] as ScriptLine;
    const what: string[] = [];
    if (o.ts !== t.ts) what.push(`ts ${o.ts} vs ${t.ts}`);
    if (o.cpu !== t.cpu) what.push(`cpu ${o.cpu} vs ${t.cpu}`);
    if (o.pid !== t.pid || o.tid !== t.tid) what.push(`pid/tid ${o.pid}/${o.tid} vs ${t.pid}/${t.tid}`);
    if (o.name !== t.event) what.push(`event ${o.name} vs ${t.event}`);
    const unnamed = t.comm === `:${t.tid}`;
    if (unnamed ? o.comm !== null && typeof o.comm !== "string" : o.comm !== t.comm) what.push(`comm ${o.comm} vs ${t.comm}`);
    if (o.fields.ip !== undefined) {
      if (o.fields.ip !== BigInt(`0x${t.rest}`)) what.push(`ip ${String(o.fields.ip)} vs ${t.rest}`);
    } else if (t.rest !== "") {
      const printed = parseTraceText(t.rest);
      if (printed.size === 0) what.push(`perf printed ${JSON.stringify(t.rest)} but we have no such fields`);
      for (const [k, v] of printed) {
        const field = o.fields[k] === undefined ? (PRINT_ALIASES[o.name]?.[k] ?? k) : k;
        if (!sameField(k, o.fields[field], v)) what.push(`${field} ${String(o.fields[field])} vs ${v}`);
      }
    }
    if (what.length > 0) bad.push(`perf script line ${t.line} (${t.event} at ${t.ts}): ${what.join("; ")}`);
  }
  return bad;
}

/**
 * Compares our perf:comm / perf:fork / perf:exit events with the task-event
 * lines of `perf script --show-task-events`: kind, time, CPU, pid/tid and
 * the COMM name or FORK/EXIT parent, in order. Returns the mismatches.
 */
export function compareTaskEvents(events: readonly TraceEvent[], scriptText: string): string[] {
  const kinds: Record<string, string> = { "perf:comm": "comm", "perf:fork": "fork", "perf:exit": "exit" };
  const ours = events.filter((e) => kinds[e.name] !== undefined);
  const theirs = parseTaskEvents(scriptText)
    .map((l, i) => ({ l, i }))
    .sort((a, b) => (a.l.ts < b.l.ts ? -1 : a.l.ts > b.l.ts ? 1 : (a.l.ts === 0n ? 0 : a.l.cpu - b.l.cpu) || a.i - b.i))
    .map((x) => x.l);
  const bad: string[] = [];
  if (ours.length !== theirs.length) bad.push(`${ours.length} task events, perf script has ${theirs.length}`);
  for (let i = 0; i < Math.min(ours.length, theirs.length) && bad.length < 20; i++) {
    const o = ours[i] as TraceEvent;
    const t = theirs[i];
    if (!t) break;
    const value = o.name === "perf:comm" ? String(o.fields.comm) : `${String(o.fields.ppid)}:${String(o.fields.ptid)}`;
    const cpuOk = o.ts === 0n || o.cpu === t.cpu; // perf prints CPU 0 for synthesized records
    if (kinds[o.name] !== t.kind || o.ts !== t.ts || !cpuOk || o.pid !== t.pid || o.tid !== t.tid || value !== t.value) {
      bad.push(`task event ${i}: ours ${o.name} ${o.ts} [${o.cpu}] ${o.pid}/${o.tid} ${value}; perf ${t.kind} ${t.ts} [${t.cpu}] ${t.pid}/${t.tid} ${t.value}`);
    }
  }
  return bad;
}
