/**
 * One line per event, machine first, in the spirit of `trace-cmd report` over
 * several files: `machine: comm-tid [cpu] timestamp: event: key=value …`,
 * then the uncertainty and any flags. Timestamps are the target domain's:
 * `seconds.nanoseconds` for a nanosecond target, raw ticks otherwise.
 */
import { MERGE_FLAG, type MergedEvent } from "../merge/merger.js";
import { fieldText } from "./field-text.js";
import type { ChunkSink, MergeHeader, MergeWriter } from "./writer.js";

/** ns → `seconds.nnnnnnnnn`. */
export function secondsText(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  return `${s}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
}

export class TextWriter implements MergeWriter {
  private header!: MergeHeader;
  private width = 0;
  private ns = false;

  constructor(
    private readonly sink: ChunkSink,
    /** Whether the target counts ns (print seconds) or ticks (print the count). */
    private readonly targetIsNs: boolean,
  ) {}

  begin(header: MergeHeader): void {
    this.header = header;
    this.ns = this.targetIsNs;
    this.width = Math.max(...header.machines.map((m) => m.name.length));
  }

  write(events: readonly MergedEvent[]): void {
    let s = "";
    for (const m of events) {
      const e = m.event;
      const name = (this.header.machines[m.machine]?.name ?? "").padStart(this.width);
      const who = `${e.comm ?? "<...>"}-${e.tid}`.padStart(20);
      const cpu = e.cpu >= 0 ? String(e.cpu).padStart(3, "0") : "???";
      const ts = this.ns ? secondsText(m.ts) : m.ts.toString();
      let fields = "";
      for (const k in e.fields) fields += ` ${k}=${fieldText(e.fields[k] ?? null)}`;
      let tail = m.boundNs === null ? " [±? ns]" : m.boundNs === 0n ? "" : ` [±${m.boundNs} ns]`;
      if (m.flags & MERGE_FLAG.orderUnknown) tail += " [order?]";
      if (m.flags & MERGE_FLAG.outsideEpoch) tail += " [outside epochs]";
      if (m.flags & MERGE_FLAG.outOfOrder) tail += " [out of order]";
      if (m.flags & MERGE_FLAG.unmapped) tail += " [unmapped: raw time]";
      s += `${name}: ${who} [${cpu}] ${ts}: ${e.name}:${fields}${tail}\n`;
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

  end(): void {}
}
