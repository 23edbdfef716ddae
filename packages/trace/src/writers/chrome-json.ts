/**
 * Chrome's JSON trace format for older viewers. Timestamps are microseconds
 * written as exact decimal strings (`"1234.567891"`), so no nanosecond is lost
 * to a float. Chrome JSON has no machines: each machine's processes get pids of
 * their own (`machine × 10^7 + pid`, the trace's pid kept in the arguments) and
 * process names carry the machine's name.
 */
import type { TraceEvent } from "../model/event.js";
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import { bytesOf, KeyBytes, writeFieldMembers } from "./json-bytes.js";
import { BufferedWriter, type MergeHeader } from "./writer.js";

const PID_STRIDE = 10_000_000;

/** ns → µs as an exact decimal string. */
export function microsecondsText(ns: bigint): string {
  const us = ns / 1000n;
  const frac = Number(ns % 1000n);
  return frac === 0 ? `${us}` : `${us}.${String(frac).padStart(3, "0")}`;
}

const C_INSTANT = bytesOf('{"ph":"i","s":"t","name":');
const C_CAT = bytesOf(',"cat":');
const C_TS = bytesOf(',"ts":"');
const C_PID = bytesOf('","pid":');
const C_TID = bytesOf(',"tid":');
const C_ARGS_CPU = bytesOf(',"args":{"cpu":');
const C_RAW_TS = bytesOf(',"raw_ts":"');
const C_BOUND = bytesOf('","uncertainty_ns":');
const C_UNKNOWN = bytesOf('"unknown"');
const C_END = bytesOf("}}");
const C_SEP = bytesOf(",\n");
const C_PID_ARG = bytesOf(',"pid":');
const C_EMPTY = bytesOf('""');

export class ChromeJsonWriter extends BufferedWriter {
  private first = true;
  private readonly named = new Set<string>();
  private readonly keys = new KeyBytes();
  /** `"name"` of each machine (the instants' category). */
  private cats: Uint8Array[] = [];
  private readonly flags = MERGE_FLAG_NAMES.map(([bit, name]) => ({ bit, bytes: bytesOf(`,"${name}":true`) }));

  override begin(header: MergeHeader): void {
    super.begin(header);
    this.cats = header.machines.map((m) => bytesOf(JSON.stringify(m.name)));
    this.append('{"traceEvents":[\n');
  }

  private item(s: string): string {
    const sep = this.first ? "" : ",\n";
    this.first = false;
    return sep + s;
  }

  private names(m: MergedEvent, pid: number, tid: number): string {
    const e: TraceEvent = m.event;
    const machine = this.header.machines[m.machine]?.name ?? String(m.machine);
    let s = "";
    const pk = `p${pid}`;
    if (!this.named.has(pk)) {
      this.named.add(pk);
      const tracePid = e.pid >= 0 ? e.pid : e.tid;
      s += this.item(`{"ph":"M","name":"process_name","pid":${pid},"tid":${pid},"args":{"name":${JSON.stringify(`${tracePid === e.tid && e.comm ? e.comm : `pid ${tracePid}`} [${machine}]`)}}}`);
    }
    const tk = `t${pid}:${tid}`;
    if (!this.named.has(tk)) {
      this.named.add(tk);
      s += this.item(`{"ph":"M","name":"thread_name","pid":${pid},"tid":${tid},"args":{"name":${JSON.stringify(`${e.comm ?? `tid ${e.tid}`} [${machine}]`)}}}`);
    }
    return s;
  }

  write(events: readonly MergedEvent[]): void {
    this.reclaim();
    const out = this.out;
    const toNs = this.header.toNanoseconds;
    for (const m of events) {
      const e = m.event;
      const tracePid = e.pid >= 0 ? e.pid : e.tid;
      const pid = m.machine * PID_STRIDE + (tracePid >= 0 ? tracePid : 0);
      const tid = e.tid >= 0 ? e.tid : 0;
      const names = this.names(m, pid, tid);
      if (names !== "") out.text(names);
      if (this.first) this.first = false;
      else out.copy(C_SEP);
      out.copy(C_INSTANT);
      out.string(e.name);
      out.copy(C_CAT);
      out.copy(this.cats[m.machine] ?? C_EMPTY);
      out.copy(C_TS);
      out.fixedPoint(toNs ? toNs(m.ts) : m.ts, 3, true, microsecondsText);
      out.copy(C_PID);
      out.number(pid);
      out.copy(C_TID);
      out.number(tid);
      out.copy(C_ARGS_CPU);
      out.number(e.cpu);
      out.copy(C_PID_ARG);
      out.number(e.pid);
      out.copy(C_RAW_TS);
      out.digits(e.ts);
      out.copy(C_BOUND);
      if (m.boundNs === null) out.copy(C_UNKNOWN);
      else out.quotedBigint(m.boundNs);
      if (m.flags !== 0) for (const x of this.flags) if (m.flags & x.bit) out.copy(x.bytes);
      writeFieldMembers(out, e.fields, this.keys, true);
      out.copy(C_END);
    }
  }

  override end(): void {
    this.append("\n]}\n");
    super.end();
  }
}
