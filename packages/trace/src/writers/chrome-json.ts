/**
 * Chrome's JSON trace format for older viewers. Timestamps are microseconds
 * written as exact decimal strings (`"1234.567891"`), so no nanosecond is lost
 * to a float. Chrome JSON has no machines: each machine's processes get pids of
 * their own (`machine × 10^7 + pid`, the trace's pid kept in the arguments) and
 * process names carry the machine's name.
 */
import type { TraceEvent } from "../model/event.js";
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import { fieldJson } from "./field-text.js";
import { TextLinesWriter, type MergeHeader } from "./writer.js";

const PID_STRIDE = 10_000_000;

/** ns → µs as an exact decimal string. */
export function microsecondsText(ns: bigint): string {
  const us = ns / 1000n;
  const frac = Number(ns % 1000n);
  return frac === 0 ? `${us}` : `${us}.${String(frac).padStart(3, "0")}`;
}

export class ChromeJsonWriter extends TextLinesWriter {
  private first = true;
  private readonly named = new Set<string>();

  override begin(header: MergeHeader): void {
    super.begin(header);
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

  protected line(m: MergedEvent): string {
    const e = m.event;
    const toNs = this.header.toNanoseconds;
    const tracePid = e.pid >= 0 ? e.pid : e.tid;
    const pid = m.machine * PID_STRIDE + (tracePid >= 0 ? tracePid : 0);
    const tid = e.tid >= 0 ? e.tid : 0;
    const ts = microsecondsText(toNs ? toNs(m.ts) : m.ts);
    let args = `"cpu":${e.cpu},"pid":${e.pid},"raw_ts":"${e.ts}","uncertainty_ns":${m.boundNs === null ? '"unknown"' : `"${m.boundNs}"`}`;
    if (m.flags !== 0) for (const [bit, name] of MERGE_FLAG_NAMES) if (m.flags & bit) args += `,"${name}":true`;
    for (const k in e.fields) args += `,${JSON.stringify(k)}:${fieldJson(e.fields[k] ?? null)}`;
    const machine = this.header.machines[m.machine]?.name ?? "";
    return this.names(m, pid, tid) + this.item(`{"ph":"i","s":"t","name":${JSON.stringify(e.name)},"cat":${JSON.stringify(machine)},"ts":"${ts}","pid":${pid},"tid":${tid},"args":{${args}}}`);
  }

  override end(): void {
    this.append("\n]}\n");
    super.end();
  }
}
