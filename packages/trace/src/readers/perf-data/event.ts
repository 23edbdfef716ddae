import type { EventFields, TraceEvent } from "../../model/event.js";

/**
 * A perf.data event. One class (one object shape) for every record kind keeps
 * property access monomorphic in the consumers' hot loops; `comm` is filled in
 * when the event comes out of the reorder queue (see `ThreadNames`).
 */
export class PerfEvent implements TraceEvent {
  comm: string | null = null;
  readonly buffer = "";
  constructor(
    readonly ts: bigint,
    readonly cpu: number,
    readonly pid: number,
    readonly tid: number,
    readonly name: string,
    readonly fields: EventFields,
  ) {}
}
