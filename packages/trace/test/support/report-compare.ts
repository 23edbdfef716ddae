/**
 * Test support: reads a trace.dat with our reader and checks it, event for
 * event, against `trace-cmd report --raw-ts -R` text of the same file.
 */
import type { FieldValue, TraceEvent } from "../../src/model/event.js";
import { readAllOf, type ReadResult } from "./read-all.js";
export type { ReadResult } from "./read-all.js";
import { traceDatFormat } from "../../src/readers/trace-dat/index.js";
import { parseReport, splitRawFields } from "./tracefs-record.js";


/** Reads every event of a trace.dat (small files only: keeps them all). */
export function readAll(path: string, batchSize?: number): Promise<ReadResult> {
  return readAllOf(traceDatFormat.open(path, batchSize === undefined ? {} : { batchSize }));
}

function sameValue(ours: FieldValue | undefined, theirs: string, event: string, field: string): boolean {
  if (typeof ours === "string") {
    // The kernel ends a trace_marker text with a newline, which the report prints as the line's end.
    const o = event === "print" ? ours.replace(/\n$/, "") : ours;
    return o === theirs;
  }
  // With kallsyms in the file the report prints an ip as its symbol; we do not symbolise.
  if (field === "ip" && typeof ours === "bigint" && /^[A-Za-z_][\w.]*(\+0x[0-9a-f]+)?$/.test(theirs)) return true;
  if (typeof ours === "number" || typeof ours === "bigint") {
    try {
      return BigInt(theirs) === BigInt.asUintN(64, BigInt(ours)) || BigInt(theirs) === BigInt(ours);
    } catch {
      return false;
    }
  }
  return false;
}

/** Field names of an event in format order, from the print events' own fields. */
function fieldNames(e: TraceEvent): string[] {
  return Object.keys(e.fields);
}

export interface Comparison {
  readonly compared: number;
  readonly fieldChecked: number;
  readonly lost: number;
  readonly mismatches: string[];
}

/**
 * Compares our events with the report: same count, and per event the buffer,
 * CPU, pid (our tid), raw timestamp, event name, comm, and for `print` and
 * `sched_switch` every field value. Lost-event markers are compared with the
 * report's `EVENTS DROPPED` lines.
 */
export function compareWithReport(ours: readonly TraceEvent[], reportText: string, checkFieldsOf: readonly string[] = ["print", "sched_switch"]): Comparison {
  const rep = parseReport(reportText);
  const mine = ours.filter((e) => e.name !== "lost");
  const myLost = ours.filter((e) => e.name === "lost");
  const mismatches: string[] = [];
  let fieldChecked = 0;
  if (mine.length !== rep.events.length) mismatches.push(`event count: ours ${mine.length}, report ${rep.events.length}`);
  const n = Math.min(mine.length, rep.events.length);
  for (let i = 0; i < n && mismatches.length < 20; i++) {
    const e = mine[i] as TraceEvent;
    const r = rep.events[i] as (typeof rep.events)[number];
    const problems: string[] = [];
    if (e.ts !== r.ts) problems.push(`ts ${e.ts} vs ${r.ts}`);
    if (e.cpu !== r.cpu) problems.push(`cpu ${e.cpu} vs ${r.cpu}`);
    if (e.tid !== r.pid) problems.push(`pid ${e.tid} vs ${r.pid}`);
    if (e.buffer !== r.buffer) problems.push(`buffer ${JSON.stringify(e.buffer)} vs ${JSON.stringify(r.buffer)}`);
    if (!e.name.endsWith(`:${r.event}`)) problems.push(`event ${e.name} vs ${r.event}`);
    if ((e.comm ?? "<...>") !== r.comm) problems.push(`comm ${JSON.stringify(e.comm)} vs ${JSON.stringify(r.comm)}`);
    if (checkFieldsOf.includes(r.event)) {
      const names = fieldNames(e);
      try {
        const theirs = splitRawFields(r.rest, names);
        for (const nm of names) {
          if (!sameValue(e.fields[nm], theirs.get(nm) as string, r.event, nm)) problems.push(`field ${nm}: ${String(e.fields[nm])} vs ${theirs.get(nm)}`);
        }
        fieldChecked++;
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (problems.length > 0) mismatches.push(`event ${i}: ${problems.join("; ")}`);
  }
  const lostOurs = myLost.map((e) => `${e.buffer}/${e.cpu}/${e.fields.count === null ? "?" : String(e.fields.count)}`);
  const lostTheirs = rep.lost.map((l) => `${l.buffer}/${l.cpu}/${l.count === null ? "?" : String(l.count)}`);
  if (lostOurs.join(",") !== lostTheirs.join(",")) mismatches.push(`lost markers: ours [${lostOurs.join(", ")}], report [${lostTheirs.join(", ")}]`);
  return { compared: n, fieldChecked, lost: myLost.length, mismatches };
}

