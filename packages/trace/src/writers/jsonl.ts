/**
 * JSON lines, one merged event per line: `machine`, `ts` (target domain) and
 * `raw_ts` as exact decimal strings, `cpu`, `pid`, `tid`, `comm`, `event`,
 * `fields`, `uncertainty_ns` (decimal string, or null when unknown) and `flags`.
 */
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import { fieldJson } from "./field-text.js";
import { TextLinesWriter, type MergeHeader } from "./writer.js";

export class JsonLinesWriter extends TextLinesWriter {
  private machines: string[] = [];

  override begin(header: MergeHeader): void {
    super.begin(header);
    this.machines = header.machines.map((m) => JSON.stringify(m.name));
  }

  protected line(m: MergedEvent): string {
    const e = m.event;
    let fields = "";
    for (const k in e.fields) fields += `${fields ? "," : ""}${JSON.stringify(k)}:${fieldJson(e.fields[k] ?? null)}`;
    let flags = "";
    if (m.flags !== 0) for (const [bit, name] of MERGE_FLAG_NAMES) if (m.flags & bit) flags += `${flags ? "," : ""}"${name}"`;
    return `{"machine":${this.machines[m.machine]},"ts":"${m.ts}","raw_ts":"${e.ts}","cpu":${e.cpu},"pid":${e.pid},"tid":${e.tid},"comm":${e.comm === null ? "null" : JSON.stringify(e.comm)},"event":${JSON.stringify(e.name)},"fields":{${fields}},"uncertainty_ns":${m.boundNs === null ? "null" : `"${m.boundNs}"`},"flags":[${flags}]}\n`;
  }
}
