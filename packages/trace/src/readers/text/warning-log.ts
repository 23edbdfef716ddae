/** How many warnings a reader keeps word for word; the rest are counted. */
export const MAX_WARNINGS = 100;

/**
 * Warnings of one reader, bounded: the first {@link MAX_WARNINGS} are kept,
 * later ones only counted, and one closing line says how many were left out
 * (a damaged million-line file must not cost a million strings).
 */
export class WarningLog {
  readonly list: string[] = [];
  private dropped = 0;
  private summarized = false;

  add(message: string): void {
    if (this.list.length < MAX_WARNINGS) this.list.push(message);
    else this.dropped++;
  }

  /** Total warnings seen, listed or not. */
  get count(): number {
    return this.list.length + this.dropped;
  }

  /** Appends the "N more" line once the input is done. */
  finish(): void {
    if (this.dropped > 0 && !this.summarized) {
      this.list.push(`… and ${this.dropped} more warning(s) not listed`);
      this.summarized = true;
    }
  }
}
