/**
 * Chrome's JSON trace format for older viewers. Timestamps are microseconds
 * written as exact decimal strings (`"1234.567891"`), so no nanosecond is lost
 * to a float. Chrome JSON has no machines: each machine's processes get pids of
 * their own (`machine × 10^7 + pid`, the trace's pid kept in the arguments) and
 * process names carry the machine's name.
 */
import type { TraceEvent } from "../model/event.js";
import { MERGE_FLAG, type MergedEvent } from "../merge/merger.js";
import { fieldJson } from "./field-text.js";
import type { ChunkSink, MergeHeader, MergeWriter } from "./writer.js";

const PID_STRIDE = 10_000_000;

/** ns → µs as an exact decimal string. */
export function microsecondsText(ns: bigint): string {
  const us = ns / 1000n;
  const frac = Number(ns % 1000n);
  return frac === 0 ? `${us}` : `${us}.${String(frac).padStart(3, "0")}`;
}

export class ChromeJsonWriter implements MergeWriter {
  private header!: MergeHeader;
  private first = true;
  private readonly named = new Set<string>();

  constructor(private readonly sink: ChunkSink) {}

  begin(header: MergeHeader): void {
    this.header = header;
    this.sink.push('{"traceEvents":[\n');
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
    const toNs = this.header.toNanoseconds;
    let s = "";
    for (const m of events) {
      const e = m.event;
      const tracePid = e.pid >= 0 ? e.pid : e.tid;
      const pid = m.machine * PID_STRIDE + (tracePid >= 0 ? tracePid : 0);
      const tid = e.tid >= 0 ? e.tid : 0;
      s += this.names(m, pid, tid);
      const ts = microsecondsText(toNs ? toNs(m.ts) : m.ts);
      let args = `"cpu":${e.cpu},"pid":${e.pid},"raw_ts":"${e.ts}","uncertainty_ns":${m.boundNs === null ? '"unknown"' : `"${m.boundNs}"`}`;
      if (m.flags & MERGE_FLAG.orderUnknown) args += ',"order_unknown":true';
      if (m.flags & MERGE_FLAG.outsideEpoch) args += ',"outside_epochs":true';
      if (m.flags & MERGE_FLAG.outOfOrder) args += ',"out_of_order":true';
      if (m.flags & MERGE_FLAG.unmapped) args += ',"unmapped":true';
      for (const k in e.fields) args += `,${JSON.stringify(k)}:${fieldJson(e.fields[k] ?? null)}`;
      const machine = this.header.machines[m.machine]?.name ?? "";
      s += this.item(`{"ph":"i","s":"t","name":${JSON.stringify(e.name)},"cat":${JSON.stringify(machine)},"ts":"${ts}","pid":${pid},"tid":${tid},"args":{${args}}}`);
      if (s.length > 1 << 20) {
        this.sink.push(s);
        s = "";
      }
    }
    this.sink.push(s);
  }

  /** Text is pushed to the sink as each batch is written: nothing waits here. */
  pending(): number {
    return 0;
  }

  flush(): void {}

  end(): void {
    this.sink.push("\n]}\n");
  }
}
