/** How many lines of one kind pass, and how summaries are made. */
export interface LogLimiterOptions {
  /** Lines of one kind written per window before the rest are only counted (default 5). */
  readonly burst?: number;
  /** The window, ms (default 10 000). */
  readonly windowMs?: number;
  /** Distinct kinds tracked at once; further kinds share one (default 256). */
  readonly maxKinds?: number;
  /** The clock, ms (default `Date.now`). */
  readonly now?: () => number;
}

interface Window {
  start: number;
  passed: number;
  suppressed: number;
  timer: NodeJS.Timeout | undefined;
}

const OVERFLOW_KIND = "other messages";

/**
 * Keeps a log readable when a peer makes the same thing happen thousands of
 * times a second (a guest writing junk on a serial line, a connection flood):
 * per kind of message, the first `burst` lines of a window are written, the
 * rest counted, and when the window ends one line says
 * `<kind>: … and N more in the last S s`. Kinds are the caller's fixed
 * categories (never peer-controlled text), and their number is capped, so
 * the limiter's own memory stays bounded.
 */
export class LogLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxKinds: number;
  private readonly now: () => number;
  private closed = false;

  constructor(
    private readonly sink: (line: string) => void,
    options: LogLimiterOptions = {},
  ) {
    this.burst = options.burst ?? 5;
    this.windowMs = options.windowMs ?? 10_000;
    this.maxKinds = options.maxKinds ?? 256;
    this.now = options.now ?? Date.now;
  }

  /** Writes `line` unless `kind` has used up its lines in the current window. */
  log(kind: string, line: string): void {
    if (this.closed) {
      this.sink(line);
      return;
    }
    if (!this.windows.has(kind) && this.windows.size >= this.maxKinds) kind = OVERFLOW_KIND;
    const now = this.now();
    let w = this.windows.get(kind);
    if (w && now - w.start >= this.windowMs) {
      this.summarise(kind, w, now);
      w = undefined;
    }
    if (!w) {
      w = { start: now, passed: 0, suppressed: 0, timer: undefined };
      this.windows.set(kind, w);
    }
    if (w.passed < this.burst) {
      w.passed++;
      this.sink(line);
      return;
    }
    w.suppressed++;
    if (w.timer === undefined) {
      const win = w;
      win.timer = setTimeout(() => {
        win.timer = undefined;
        if (this.windows.get(kind) === win) {
          this.summarise(kind, win, this.now());
          this.windows.delete(kind);
        }
      }, Math.max(1, win.start + this.windowMs - now));
      win.timer.unref();
    }
  }

  /** Writes the summary of every kind with lines held back, and starts afresh. */
  flush(): void {
    const now = this.now();
    for (const [kind, w] of this.windows) this.summarise(kind, w, now);
    this.windows.clear();
  }

  /** Flushes, then writes every later line as is (for the last words of a shutdown). */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private summarise(kind: string, w: Window, now: number): void {
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.timer = undefined;
    if (w.suppressed === 0) return;
    const seconds = Math.max(1, Math.round((now - w.start) / 1000));
    this.sink(`${kind}: … and ${w.suppressed} more in the last ${seconds} s`);
    w.suppressed = 0;
  }
}
