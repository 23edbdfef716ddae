/**
 * JSON lines, one merged event per line: `machine`, `ts` (target domain) and
 * `raw_ts` as exact decimal strings, `cpu`, `pid`, `tid`, `comm`, `event`,
 * `fields`, `uncertainty_ns` (decimal string, or null when unknown) and `flags`.
 * Field values follow `trace dump`'s rules. Written as bytes into the writer's
 * own buffer (see `json-bytes.ts`).
 */
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import { bytesOf, KeyBytes, writeEventMembers } from "./json-bytes.js";
import { BufferedWriter, type MergeHeader } from "./writer.js";

const C_TS = bytesOf(',"ts":"');
const C_RAW_TS = bytesOf('","raw_ts":"');
const C_RAW_TS_END = bytesOf('",');
const C_NULL = bytesOf("null");
const C_BOUND = bytesOf(',"uncertainty_ns":');
const C_FLAGS = bytesOf(',"flags":[');
const C_END = bytesOf("]}\n");

export class JsonLinesWriter extends BufferedWriter {
  private readonly keys = new KeyBytes();
  /** `{"machine":"name"` per machine index. */
  private heads: Uint8Array[] = [];
  /** `"name"` of each flag bit, comma-led after the first. */
  private readonly flags = MERGE_FLAG_NAMES.map(([bit, name]) => ({ bit, first: bytesOf(`"${name}"`), rest: bytesOf(`,"${name}"`) }));
  override begin(header: MergeHeader): void {
    super.begin(header);
    this.heads = header.machines.map((m) => bytesOf(`{"machine":${JSON.stringify(m.name)}`));
  }

  write(events: readonly MergedEvent[]): void {
    this.reclaim();
    const out = this.out;
    for (const m of events) {
      const e = m.event;
      out.copy(this.heads[m.machine] as Uint8Array);
      out.copy(C_TS);
      out.digits(m.ts);
      out.copy(C_RAW_TS);
      out.digits(e.ts);
      out.copy(C_RAW_TS_END);
      writeEventMembers(out, e, this.keys);
      out.copy(C_BOUND);
      if (m.boundNs === null) out.copy(C_NULL);
      else out.quotedBigint(m.boundNs);
      out.copy(C_FLAGS);
      if (m.flags !== 0) {
        let any = false;
        for (const x of this.flags) {
          if (m.flags & x.bit) {
            out.copy(any ? x.rest : x.first);
            any = true;
          }
        }
      }
      out.copy(C_END);
    }
  }
}
