/**
 * Warnings of one reader, bounded: the first few of each kind are kept word
 * for word (each names its offset), the rest are counted and summarised once,
 * so a file with a million lost-event records cannot grow the list without end.
 */
export class WarningLog {
  readonly list: string[] = [];
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly prefix: string,
    private readonly perKind = 10,
  ) {}

  /** Adds a warning of `kind` (a short stable label); `message` is built only when it will be kept. */
  add(kind: string, message: string | (() => string)): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= this.perKind) this.list.push(`${this.prefix}: ${typeof message === "string" ? message : message()}`);
  }

  /** How many warnings of `kind` were seen. */
  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Appends one line per kind whose warnings were not all kept. Call once, at the end. */
  summarise(): void {
    for (const [kind, n] of this.counts) {
      if (n > this.perKind) this.list.push(`${this.prefix}: ${n} warnings of kind "${kind}" in all (${this.perKind} shown)`);
    }
  }
}
