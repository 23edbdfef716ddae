import type { TraceEvent, TraceInfo, TraceReader } from "../../src/index.js";

/** A reader over events held in memory (already in time order), for testing the merger's logic. */
export function memoryReader(events: readonly TraceEvent[], info: Partial<TraceInfo> & { clock: TraceInfo["clock"] }, batchSize = 7): TraceReader {
  let closed = false;
  const full: TraceInfo = {
    format: "jsonl",
    version: null,
    compression: null,
    buffers: [{ name: "", clock: info.clock, cpus: [...new Set(events.map((e) => e.cpu))].sort((a, b) => a - b) }],
    cpuCount: null,
    timeRecords: {},
    warnings: [],
    ...info,
  };
  return {
    info: full,
    warnings: [],
    async *batches() {
      for (let i = 0; i < events.length; i += batchSize) {
        if (closed) return;
        yield events.slice(i, i + batchSize);
      }
    },
    async close() {
      closed = true;
    },
  };
}

/** An event with just what the merger looks at. */
export function ev(ts: bigint, cpu: number, name = "test:event", tid = 100 + cpu): TraceEvent {
  return { ts, cpu, pid: tid, tid, comm: `t${tid}`, name, fields: { n: Number(ts % 1000n) }, buffer: "" };
}
