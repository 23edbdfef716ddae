import type { TraceEvent, TraceInfo, TraceReader } from "../../src/model/event.js";

/** Everything a small trace holds. */
export interface ReadResult {
  readonly info: TraceInfo;
  readonly events: TraceEvent[];
  readonly warnings: readonly string[];
}

/** Reads every event of an opened trace, then closes it (small files only: keeps them all). */
export async function readAllOf(reader: Promise<TraceReader>): Promise<ReadResult> {
  const r = await reader;
  try {
    const events: TraceEvent[] = [];
    for await (const b of r.batches()) events.push(...b);
    return { info: r.info, events, warnings: [...r.warnings] };
  } finally {
    await r.close();
  }
}
