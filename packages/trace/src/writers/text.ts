/**
 * One line per event, machine first, in the spirit of `trace-cmd report` over
 * several files: `machine: comm-tid [cpu] timestamp: event: key=value …`,
 * then the uncertainty and any flags. Timestamps are the target domain's:
 * `seconds.nanoseconds` for a nanosecond target, raw ticks otherwise.
 */
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import type { FieldValue } from "../model/event.js";
import { fieldText } from "./field-text.js";
import { bytesOf } from "./json-bytes.js";
import { BufferedWriter, type ChunkSink, type MergeHeader } from "./writer.js";

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

const C_UNKNOWN_COMM = bytesOf("<...>");
const C_UNKNOWN_CPU = bytesOf(" [???] ");
const C_UNKNOWN_BOUND = bytesOf(" [±? ns]");
const C_NULL = bytesOf("(null)");
const MAX_SAFE = 9007199254740991n;

/** Characters of an integer's decimal form (with its minus sign). */
function decimalLength(n: number): number {
  let len = n < 0 ? 2 : 1;
  for (let a = Math.abs(n); a >= 10; a = Math.floor(a / 10)) len++;
  return len;
}

export class TextWriter extends BufferedWriter {
  /** Each machine's name, padded to the longest, and `: `. */
  private names: Uint8Array[] = [];
  private readonly flags = MERGE_FLAG_NAMES.map(([bit, name]) => ({ bit, bytes: bytesOf(FLAG_TEXT[name] ?? "") }));

  constructor(
    sink: ChunkSink,
    /** Whether the target counts ns (print seconds) or ticks (print the count). */
    private readonly targetIsNs: boolean,
  ) {
    super(sink);
  }

  override begin(header: MergeHeader): void {
    super.begin(header);
    const width = Math.max(...header.machines.map((m) => m.name.length));
    this.names = header.machines.map((m) => bytesOf(`${m.name.padStart(width)}: `));
  }

  write(events: readonly MergedEvent[]): void {
    this.reclaim();
    const out = this.out;
    for (const m of events) {
      const e = m.event;
      out.copy(this.names[m.machine] ?? C_NULL);
      // `comm-tid`, right-aligned in 20 characters.
      out.fill(32, 20 - ((e.comm ?? "<...>").length + 1 + decimalLength(e.tid)));
      if (e.comm === null) out.copy(C_UNKNOWN_COMM);
      else out.raw(e.comm);
      out.fill(45, 1);
      out.number(e.tid);
      if (e.cpu >= 0) {
        out.raw(" [");
        out.fill(48, 3 - decimalLength(e.cpu));
        out.number(e.cpu);
        out.raw("] ");
      } else {
        out.copy(C_UNKNOWN_CPU);
      }
      if (this.targetIsNs) out.fixedPoint(m.ts, 9, false, secondsText);
      else out.digits(m.ts);
      out.raw(": ");
      out.raw(e.name);
      out.fill(58, 1);
      const f = e.fields;
      for (const k in f) {
        out.fill(32, 1);
        out.raw(k);
        out.fill(61, 1);
        this.value(f[k] ?? null);
      }
      if (m.boundNs === null) out.copy(C_UNKNOWN_BOUND);
      else if (m.boundNs !== 0n) {
        out.raw(" [±");
        out.digits(m.boundNs);
        out.raw(" ns]");
      }
      if (m.flags !== 0) for (const x of this.flags) if (m.flags & x.bit) out.copy(x.bytes);
      out.fill(10, 1);
    }
  }

  /** A field value as `fieldText` writes it. */
  private value(v: FieldValue): void {
    const out = this.out;
    switch (typeof v) {
      case "number":
        if (Number.isSafeInteger(v)) out.number(v);
        else out.raw(String(v));
        return;
      case "bigint":
        if (v >= -MAX_SAFE && v <= MAX_SAFE) out.number(Number(v));
        else out.raw(v.toString());
        return;
      case "string":
        out.raw(v);
        return;
    }
    if (v === null) out.copy(C_NULL);
    else out.raw(fieldText(v));
  }
}
