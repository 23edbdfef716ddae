/**
 * The live kernel log read straight from `/dev/kmsg`, without running the
 * `dmesg` command: one record per read, non-blocking, until the kernel says
 * there is no more (EAGAIN). The records are printed the way `dmesg` prints
 * them (`[    5.140900] message`), so the same parsers read both and line
 * numbers agree with `dmesg`'s.
 */
import { closeSync, constants, openSync, readSync } from "node:fs";

/** What reading `/dev/kmsg` gave. */
export type KmsgRead =
  | { readonly ok: true; readonly text: string; readonly truncated: boolean }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** The device. */
export const KMSG_PATH = "/dev/kmsg";

/** A record's text: the kernel escapes bytes that are not printable (and `\`) as `\xNN`. */
function unescape(s: string): string {
  return s.includes("\\x") ? s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))) : s;
}

/**
 * The `[    5.140900] ` prefix dmesg prints for a record's microseconds since boot, by cutting the
 * decimal digits (any number of them, exactly): a probe formats hundreds of records at start-up,
 * and doing it in BigInt allocated three of them per record.
 */
function stamp(usec: string): string {
  const cut = usec.length - 6;
  let seconds = "0";
  if (cut > 0) {
    let i = 0;
    while (i < cut - 1 && usec.charCodeAt(i) === 48) i++;
    seconds = usec.slice(i, cut);
  }
  return `[${seconds.padStart(5)}.${cut > 0 ? usec.slice(cut) : usec.padStart(6, "0")}] `;
}

/** One record (`prio,seq,usec,flags;message\n` and optional ` KEY=value` lines) as a dmesg line, or null. */
export function kmsgRecordLine(record: string): string | null {
  const semi = record.indexOf(";");
  if (semi < 0) return null;
  // The third comma-separated field of the header: found in place, not split into an array per record.
  const c1 = record.indexOf(",");
  const c2 = c1 < 0 || c1 > semi ? -1 : record.indexOf(",", c1 + 1);
  if (c2 < 0 || c2 > semi) return null;
  const c3 = record.indexOf(",", c2 + 1);
  const usec = record.slice(c2 + 1, c3 < 0 || c3 > semi ? semi : c3);
  if (!/^\d+$/.test(usec)) return null;
  const nl = record.indexOf("\n", semi);
  const message = unescape(record.slice(semi + 1, nl < 0 ? record.length : nl));
  const prefix = stamp(usec);
  // A message of several lines: dmesg indents the later ones under the first.
  return prefix + (message.includes("\n") ? message.split("\n").join(`\n${" ".repeat(prefix.length)}`) : message);
}

/**
 * Reads every record in the kernel's ring buffer, up to `maxBytes` of text.
 * Never blocks (O_NONBLOCK): the end is EAGAIN; EPIPE (records overwritten
 * while reading) moves on to the oldest one left.
 */
export function readKmsg(maxBytes: number): KmsgRead {
  let fd: number;
  try {
    fd = openSync(KMSG_PATH, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, code: err.code ?? "EIO", message: err.message };
  }
  try {
    // A record is at most 8 KiB (the kernel's limit for one read).
    const buf = Buffer.allocUnsafe(8192);
    const lines: string[] = [];
    let size = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") break;
        if (code === "EPIPE") continue;
        if (code === "EINVAL" && lines.length === 0) return { ok: false, code, message: (e as Error).message };
        throw e;
      }
      if (n === 0) break;
      const line = kmsgRecordLine(buf.toString("utf8", 0, n));
      if (line === null) continue;
      if (size + line.length + 1 > maxBytes) return { ok: true, text: lines.join("\n") + (lines.length ? "\n" : ""), truncated: true };
      lines.push(line);
      size += line.length + 1;
    }
    return { ok: true, text: lines.join("\n") + (lines.length ? "\n" : ""), truncated: false };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, code: err.code ?? "EIO", message: err.message };
  } finally {
    closeSync(fd);
  }
}
