/** One line of the kernel log, with its 1-based line number and the timestamp prefix stripped. */
export interface KernelLogLine {
  readonly lineNumber: number;
  /** The message without the `[   0.000000] ` or `<6>` prefix. */
  readonly message: string;
  /** Seconds since boot from the prefix, when present. */
  readonly uptime: number | null;
}

/**
 * The prefix before a message: an optional `<level>`, the `[ seconds]` stamp
 * (HiSilicon kernels add an `s`), and the caller tags some vendor kernels add —
 * Samsung `[cpu: comm: pid] `, MediaTek `(cpu)[pid:comm]`, HiSilicon `[pid:N,cpuN,comm]`.
 */
const PREFIX = /^(?:<\d+>)?(?:\[\s*(\d+\.\d+)s?\]\s?)?(?:\s*\[\s*\d+:\s*[^\]]*?:\s*\d+\]\s*|\s*\(\d+\)\[\d+:[^\]]*\]|\[pid:\d+,cpu\d+,[^\]]*\])?/;

/**
 * The non-empty lines of a kernel log (LF, CR LF or CR, possibly mid-boot),
 * one at a time: a huge log (16 MiB of newlines, millions of short lines) is
 * scanned without holding an array of its lines.
 */
export function* kernelLogLines(text: string): Generator<KernelLogLine, void, undefined> {
  const n = text.length;
  let start = 0;
  let lineNumber = 0;
  // The next LF and CR at or after `start`, found with native searches (-1 → none left).
  let lf = text.indexOf("\n");
  let cr = text.indexOf("\r");
  while (start <= n) {
    if (lf !== -1 && lf < start) lf = text.indexOf("\n", start);
    if (cr !== -1 && cr < start) cr = text.indexOf("\r", start);
    const end = lf === -1 ? (cr === -1 ? n : cr) : cr === -1 ? lf : Math.min(lf, cr);
    lineNumber++;
    if (end > start) {
      const raw = text.slice(start, end);
      const m = PREFIX.exec(raw);
      const prefix = m?.[0] ?? "";
      yield { lineNumber, message: prefix.length === 0 ? raw : raw.slice(prefix.length), uptime: m?.[1] ? Number(m[1]) : null };
    }
    if (end >= n) break;
    start = end + (end === cr && lf === cr + 1 ? 2 : 1);
  }
}

/** The non-empty lines of a kernel log as an array; prefer {@link kernelLogLines} for logs of unknown size. */
export function parseKernelLog(text: string): KernelLogLine[] {
  return [...kernelLogLines(text)];
}

/** Names a kernel-log line in a fact's source: `var/log/dmesg:42 "tsc: Detected …"`. */
export function logLineSource(logSource: string, line: KernelLogLine): string {
  const msg = line.message.length > 120 ? `${line.message.slice(0, 117)}...` : line.message;
  return `${logSource}:${line.lineNumber} "${msg}"`;
}
