import { writeSync } from "node:fs";

/**
 * Writes `bytes[0, length)` to a descriptor synchronously, all of it: a write
 * may be short (a signal, a nearly full disk), so it goes on from where the
 * last one stopped. A write that takes nothing of a non-empty rest would loop
 * for ever: it fails with `EIO` instead.
 * @throws the errno error of the write that failed
 */
export function writeAllSync(fd: number, bytes: Uint8Array, length = bytes.length): void {
  for (let off = 0; off < length; ) {
    const n = writeSync(fd, bytes, off, length - off);
    if (n <= 0) throw Object.assign(new Error(`write took ${n} of ${length - off} bytes`), { code: "EIO" });
    off += n;
  }
}
