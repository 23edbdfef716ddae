/**
 * One line per event, machine first, in the spirit of `trace-cmd report` over
 * several files: `machine: comm-tid [cpu] timestamp: event: key=value …`,
 * then the uncertainty and any flags. Timestamps are the target domain's:
 * `seconds.nanoseconds` for a nanosecond target, raw ticks otherwise.
 */
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import { fieldText } from "./field-text.js";
import { TextLinesWriter, type ChunkSink, type MergeHeader } from "./writer.js";

/** ns → `seconds.nnnnnnnnn`. */
export function secondsText(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  return `${s}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
}

/** Suffixes of flagged events. */
const FLAG_TEXT: Record<string, string> = {
  order_unknown: " [order?]",
  outside_epochs: " [outside epochs]",
  out_of_order: " [out of order]",
  unmapped: " [unmapped: raw time]",
};

export class TextWriter extends TextLinesWriter {
  private width = 0;

  constructor(
    sink: ChunkSink,
    /** Whether the target counts ns (print seconds) or ticks (print the count). */
    private readonly targetIsNs: boolean,
  ) {
    super(sink);
  }

  override begin(header: MergeHeader): void {
    super.begin(header);
    this.width = Math.max(...header.machines.map((m) => m.name.length));
  }

  protected line(m: MergedEvent): string {
    const e = m.event;
    const name = (this.header.machines[m.machine]?.name ?? "").padStart(this.width);
    const who = `${e.comm ?? "<...>"}-${e.tid}`.padStart(20);
    const cpu = e.cpu >= 0 ? String(e.cpu).padStart(3, "0") : "???";
    const ts = this.targetIsNs ? secondsText(m.ts) : m.ts.toString();
    let fields = "";
    for (const k in e.fields) fields += ` ${k}=${fieldText(e.fields[k] ?? null)}`;
    let tail = m.boundNs === null ? " [±? ns]" : m.boundNs === 0n ? "" : ` [±${m.boundNs} ns]`;
    if (m.flags !== 0) for (const [bit, flag] of MERGE_FLAG_NAMES) if (m.flags & bit) tail += FLAG_TEXT[flag];
    return `${name}: ${who} [${cpu}] ${ts}: ${e.name}:${fields}${tail}\n`;
  }
}
