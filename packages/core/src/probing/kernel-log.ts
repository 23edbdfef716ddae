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

/** Splits a kernel log (LF or CR LF, possibly mid-boot) into lines. */
export function parseKernelLog(text: string): KernelLogLine[] {
  const out: KernelLogLine[] = [];
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.length === 0) continue;
    const m = PREFIX.exec(raw);
    const prefix = m?.[0] ?? "";
    out.push({ lineNumber: i + 1, message: raw.slice(prefix.length), uptime: m?.[1] ? Number(m[1]) : null });
  }
  return out;
}

/** Names a kernel-log line in a fact's source: `var/log/dmesg:42 "tsc: Detected …"`. */
export function logLineSource(logSource: string, line: KernelLogLine): string {
  const msg = line.message.length > 120 ? `${line.message.slice(0, 117)}...` : line.message;
  return `${logSource}:${line.lineNumber} "${msg}"`;
}
