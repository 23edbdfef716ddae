/**
 * JSON lines, one merged event per line: `machine`, `ts` (target domain) and
 * `raw_ts` as exact decimal strings, `cpu`, `pid`, `tid`, `comm`, `event`,
 * `fields`, `uncertainty_ns` (decimal string, or null when unknown) and `flags`.
 */
import { MERGE_FLAG, type MergedEvent } from "../merge/merger.js";
import { fieldJson } from "./field-text.js";
import type { ChunkSink, MergeHeader, MergeWriter } from "./writer.js";

const FLAG_NAMES: [number, string][] = [
  [MERGE_FLAG.orderUnknown, "order_unknown"],
  [MERGE_FLAG.outsideEpoch, "outside_epochs"],
  [MERGE_FLAG.outOfOrder, "out_of_order"],
  [MERGE_FLAG.unmapped, "unmapped"],
];

export class JsonLinesWriter implements MergeWriter {
  private machines: string[] = [];

  constructor(private readonly sink: ChunkSink) {}

  begin(header: MergeHeader): void {
    this.machines = header.machines.map((m) => JSON.stringify(m.name));
  }

  write(events: readonly MergedEvent[]): void {
    let s = "";
    for (const m of events) {
      const e = m.event;
      let fields = "";
      for (const k in e.fields) fields += `${fields ? "," : ""}${JSON.stringify(k)}:${fieldJson(e.fields[k] ?? null)}`;
      let flags = "";
      for (const [bit, name] of FLAG_NAMES) if (m.flags & bit) flags += `${flags ? "," : ""}"${name}"`;
      s += `{"machine":${this.machines[m.machine]},"ts":"${m.ts}","raw_ts":"${e.ts}","cpu":${e.cpu},"pid":${e.pid},"tid":${e.tid},"comm":${e.comm === null ? "null" : JSON.stringify(e.comm)},"event":${JSON.stringify(e.name)},"fields":{${fields}},"uncertainty_ns":${m.boundNs === null ? "null" : `"${m.boundNs}"`},"flags":[${flags}]}\n`;
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
