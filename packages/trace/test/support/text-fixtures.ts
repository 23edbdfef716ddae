/**
 * The committed text traces (packages/trace/test/data/text-*), how they were
 * made, and reading helpers for the text-reader tests. Regenerate with
 * `CLOCKSOURCE_REGEN_TEXT=1 npx vitest run --project trace ftrace-text`
 * (root, tracefs, trace-cmd): tracefs text comes with `<file>.expect.json`,
 * what the kernel and the writers said while recording (per-CPU entry counts,
 * each marker's CPU, text and writer pid); `trace-cmd report` variants are
 * printed from a committed trace.dat (`text-report-<dat>.<variant>.txt`).
 */
import { join } from "node:path";
import type { TraceEvent, TraceInfo } from "../../src/model/event.js";
import { readAllOf, type ReadResult } from "./read-all.js";
import { openTrace, type OpenTraceOptions } from "../../src/open.js";
import type { TextRecordOptions } from "./tracefs-text-record.js";

export const DATA_DIR = join(import.meta.dirname, "..", "data");

/** Only the marker writers' own switches: keeps the files small on a busy machine. */
const OWN = 'prev_comm == "sh" || next_comm == "sh" || prev_comm == "taskset" || next_comm == "taskset"';
const marks = (tag: string) => [0, 1].flatMap((cpu) => [0, 1, 2].map((i) => ({ cpu, text: `clocksource h7 ${tag} cpu${cpu} #${i}` })));

/** tracefs text fixtures: file name → recording. */
export const TRACEFS_TEXT: Readonly<Record<string, TextRecordOptions & { readonly read: "trace" | "pipe" }>> = {
  // Raw TSC counts, the irq-info flags column (the tracefs default).
  "text-tracefs-x86tsc.trace.txt": { clock: "x86-tsc", events: { "sched/sched_switch": OWN, "sched/sched_process_exec": "" }, markers: marks("tsc"), read: "trace" },
  // sec.usec, the tgid column, no flags column.
  "text-tracefs-mono-tgid.trace.txt": { clock: "mono", events: { "sched/sched_switch": OWN }, traceOptions: { "irq-info": 0, "record-tgid": 1 }, markers: marks("mono"), read: "trace" },
  // trace_pipe: no header at all.
  "text-tracefs-local.pipe.txt": { clock: "local", events: { "sched/sched_switch": OWN }, markers: marks("local"), pipe: true, read: "pipe" },
};

/** `trace-cmd report` variants printed from a committed trace.dat. */
export const REPORT_VARIANTS: Readonly<Record<string, readonly string[]>> = {
  default: [],
  t: ["-t"],
  "raw-ts": ["--raw-ts"],
  l: ["-l"],
};

/** The committed trace.dat the report variants are printed from (test/data, see trace-dat-fixtures.ts). */
export const REPORT_SOURCES = ["marker-mono-v6.dat", "sched-x86tsc-v7-zstd.dat", "two-buffer-mono-v6.dat", "lost-local-v7-zstd.dat"] as const;

export function reportFixture(dat: string, variant: string): string {
  return join(DATA_DIR, `text-report-${dat.replace(/\.dat$/, "")}.${variant}.txt`);
}

export interface Expectation {
  readonly clock: string;
  readonly markers: readonly { readonly cpu: number; readonly text: string; readonly pid: number }[];
  readonly entries: Readonly<Record<string, number>>;
}

export type Read = ReadResult;

/** Reads every event of a small trace in any format (detected, or `options.format`). */
export function readTrace(path: string, options: OpenTraceOptions = {}): Promise<Read> {
  return readAllOf(openTrace(path, options));
}
