import { ClocksourceError } from "@clocksource/core";
import type { TraceEvent } from "../../model/event.js";

/** Default number of events a text reader holds to put slightly out-of-order input in order. */
export const DEFAULT_REORDER_WINDOW = 4096;

/**
 * Puts a nearly sorted stream in order (by `ts`, ties by CPU, then arrival)
 * while holding at most about twice `window` events.
 *
 * Text traces are written in time order by the tools that print them, so the
 * common case is an append; an event that arrives late is inserted by binary
 * search. Events leave in runs of `window`: every event still held is then
 * later than the run, so the run is final. An event earlier than one already
 * handed out cannot be put in order any more: that is an `INVALID_TRACE`
 * error naming its line (the caller delivers what came before it first).
 */
export class ReorderWindow {
  private buf: TraceEvent[] = [];
  private lastOut: bigint | null = null;

  constructor(
    private readonly window: number,
    private readonly where: string,
  ) {
    if (!Number.isSafeInteger(window) || window < 1) throw new ClocksourceError("INVALID_ARGUMENT", `reorder window must be a positive integer, got ${window}`);
  }

  /** Adds an event; returns events that are final (possibly none). */
  push(e: TraceEvent, line: number): TraceEvent[] | null {
    const buf = this.buf;
    const n = buf.length;
    const last = n > 0 ? (buf[n - 1] as TraceEvent) : null;
    if (last === null || e.ts > last.ts || (e.ts === last.ts && e.cpu >= last.cpu)) {
      buf.push(e);
    } else {
      if (this.lastOut !== null && e.ts < this.lastOut) {
        throw new ClocksourceError(
          "INVALID_TRACE",
          `${this.where}: line ${line}: timestamp ${e.ts} is earlier than ${this.lastOut}, already delivered: out of order by more than the reorder window (${this.window} events)`,
        );
      }
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const m = buf[mid] as TraceEvent;
        if (m.ts < e.ts || (m.ts === e.ts && m.cpu <= e.cpu)) lo = mid + 1;
        else hi = mid;
      }
      buf.splice(lo, 0, e);
    }
    if (buf.length < 2 * this.window) return null;
    const out = buf.slice(0, this.window);
    this.buf = buf.slice(this.window);
    this.lastOut = (out[out.length - 1] as TraceEvent).ts;
    return out;
  }

  /** Everything still held, in order (the end of the input). */
  drain(): TraceEvent[] {
    const out = this.buf;
    this.buf = [];
    if (out.length > 0) this.lastOut = (out[out.length - 1] as TraceEvent).ts;
    return out;
  }
}
