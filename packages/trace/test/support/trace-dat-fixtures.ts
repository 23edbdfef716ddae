/**
 * The committed trace.dat files (packages/trace/test/data), how they were
 * recorded, and the trace_marker texts they must contain. Regenerate with
 * `CLOCKSOURCE_REGEN_TRACE_DAT=1 npx vitest run --project trace trace-dat.fixtures`
 * (root, tracefs, trace-cmd). Each file has `<file>.report.txt` beside it: the
 * output of `trace-cmd report --raw-ts -R <file>` on the machine that recorded it.
 */
import { join } from "node:path";
import type { RecordOptions } from "./tracefs-record.js";

export const DATA_DIR = join(import.meta.dirname, "..", "data");

/** A recorded fixture: the recording and which converted files are kept. */
export interface Fixture {
  readonly base: string;
  readonly options: RecordOptions;
  readonly keep: readonly ("v6" | "v7-zstd" | "v7-none")[];
  /** Marker writes (cpu, text) the file holds. */
  readonly markers: readonly { readonly cpu: number; readonly text: string }[];
}

const m = (cpu: number, n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ cpu, text: `clocksource ${tag} cpu${cpu} #${i}` }));

const schedMarkers = [...m(0, 3, "sched"), ...m(1, 3, "sched")];
const monoMarkers = [...m(0, 5, "mono"), ...m(1, 5, "mono")];
/** Keeps committed files small on a busy machine: only switches of the marker writers. */
const ownSwitches = { "sched/sched_switch": 'prev_comm == "sh" || next_comm == "sh" || prev_comm == "taskset" || next_comm == "taskset"' };
const twoMarkers = [...m(0, 2, "two"), ...m(1, 2, "two")];

export const FIXTURES: readonly Fixture[] = [
  {
    base: "sched-x86tsc",
    options: { clock: "x86-tsc", events: ["sched/sched_switch"], filters: ownSwitches, markers: schedMarkers, minimal: true },
    keep: ["v6", "v7-zstd", "v7-none"],
    markers: schedMarkers,
  },
  {
    base: "marker-mono",
    options: { clock: "mono", events: [], markers: monoMarkers, minimal: true },
    keep: ["v6", "v7-zstd"],
    markers: monoMarkers,
  },
  {
    // An 8 KiB ring buffer overflows: the kernel drops old pages and flags the reader page.
    base: "lost-local",
    options: { clock: "local", events: [], markers: m(1, 600, "lost"), bufferSizeKb: 8, minimal: true },
    keep: ["v7-zstd"],
    markers: [],
  },
  {
    base: "two-buffer-mono",
    options: { clock: "mono", events: ["sched/sched_switch"], filters: ownSwitches, markers: twoMarkers, buffers: 2, minimal: true },
    keep: ["v6", "v7-zstd"],
    markers: twoMarkers,
  },
];

export function fixtureFile(base: string, kind: "v6" | "v7-zstd" | "v7-none"): string {
  return join(DATA_DIR, `${base}-${kind}.dat`);
}
