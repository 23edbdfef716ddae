/**
 * The command name of each thread as perf tracks it, updated in the order
 * events come out (time order), so an event gets the name its thread had at
 * that time: COMM records set it, FORK gives the child its parent's, and the
 * idle thread is `swapper` like perf names it. Names the tracing data's saved
 * cmdlines know fill in for threads no COMM record named.
 */
export class ThreadNames {
  private readonly names = new Map<number, string>([[0, "swapper"]]);

  constructor(private readonly fallback: ReadonlyMap<number, string> = new Map()) {}

  /** The thread's name now, or null when nothing names it. */
  get(tid: number): string | null {
    return this.names.get(tid) ?? this.fallback.get(tid) ?? null;
  }

  /** A COMM record. */
  set(tid: number, comm: string): void {
    this.names.set(tid, comm);
  }

  /** A FORK record: a new thread `tid` (a reused tid forgets its old name) named like its parent. */
  fork(tid: number, parentTid: number): void {
    const parent = this.names.get(parentTid);
    if (parent !== undefined) this.names.set(tid, parent);
    else this.names.delete(tid);
  }
}
