/**
 * Puts perf.data events in time order within the bound perf record gives.
 *
 * perf record drains every CPU's buffer in turn and writes FINISHED_ROUND after
 * each pass. An event written in pass N+1 can be older than the newest event of
 * pass N, but never older than anything written before pass N began. So at each
 * FINISHED_ROUND the events up to the newest timestamp seen at the *previous*
 * FINISHED_ROUND are final and can go out, the rest wait — the rule `perf
 * script` follows too, so both print the same order. Events without a
 * timestamp (0) go out at once, as perf does. Ties go by CPU, then file order.
 */
import type { PerfEvent } from "./event.js";

function byTimeThenCpu(a: PerfEvent, b: PerfEvent): number {
  return a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.cpu - b.cpu;
}

export class RoundQueue {
  private pending: PerfEvent[] = [];
  private sorted = 0;
  private nextFlush = 0n;
  private maxTs = 0n;
  private lastOut = 0n;
  /** Events that arrived older than an event already out (perf's "out of order" events). */
  unordered = 0;
  /** Times the queue outgrew its bound and let half go early. */
  overflows = 0;

  constructor(
    private readonly emit: (e: PerfEvent) => void,
    /** Most events held at once; past it the older half goes out early (order may then break). */
    readonly limit = 1 << 18,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  push(e: PerfEvent): void {
    const ts = e.ts;
    if (ts === 0n) {
      this.emit(e);
      return;
    }
    if (ts < this.lastOut) this.unordered++;
    if (ts > this.maxTs) this.maxTs = ts;
    this.pending.push(e);
    if (this.pending.length > this.limit) {
      this.overflows++;
      this.sort();
      this.flushCount(this.pending.length >> 1);
    }
  }

  /** FINISHED_ROUND. */
  round(): void {
    this.flushUpTo(this.nextFlush);
    this.nextFlush = this.maxTs;
  }

  /** End of the stream: everything goes. */
  finish(): void {
    this.sort();
    this.flushCount(this.pending.length);
  }

  private sort(): void {
    // Array#sort is stable, which keeps file order among equal (ts, cpu).
    if (this.sorted < this.pending.length) this.pending.sort(byTimeThenCpu);
    this.sorted = this.pending.length;
  }

  private flushUpTo(limit: bigint): void {
    if (this.pending.length === 0) return;
    this.sort();
    const p = this.pending;
    // Binary search for the first event newer than the limit.
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((p[mid] as PerfEvent).ts <= limit) lo = mid + 1;
      else hi = mid;
    }
    this.flushCount(lo);
  }

  private flushCount(n: number): void {
    if (n === 0) return;
    const p = this.pending;
    for (let i = 0; i < n; i++) this.emit(p[i] as PerfEvent);
    this.lastOut = (p[n - 1] as PerfEvent).ts;
    this.pending = n === p.length ? [] : p.slice(n);
    this.sorted = this.pending.length;
  }
}
