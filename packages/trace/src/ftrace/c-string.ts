/**
 * NUL-terminated strings out of trace records, with the short ones interned.
 *
 * The same few short strings — thread names in `sched_switch`, `comm` fields —
 * come back millions of times in a trace. Decoding each afresh costs a
 * conversion and a young string per event; looking the bytes up in a small
 * table keyed by their hash returns the string decoded the first time, which
 * also lets the writers' caches (keyed by string) hit without hashing a new one.
 * A hit compares every byte, so the result is always the bytes' own decoding.
 */
import { decodeText } from "./byte-cursor.js";

/** Strings up to this many bytes are interned: a task's comm is at most 15. */
const MAX_INTERNED = 16;
const SLOTS = 1024;

/** Slot i holds a string in `texts[i]` and its bytes at `bytes[i * MAX_INTERNED]`, `lengths[i]` long (-1: empty slot). */
const texts: string[] = new Array<string>(SLOTS).fill("");
const table = new Uint8Array(SLOTS * MAX_INTERNED);
const lengths = new Int8Array(SLOTS).fill(-1);

/** The text of `bytes[start, end)` up to the first NUL, as UTF-8 (invalid sequences become U+FFFD). */
export function cString(bytes: Uint8Array, start: number, end: number): string {
  let e = start;
  let h = 0x811c9dc5;
  while (e < end) {
    const b = bytes[e] as number;
    if (b === 0) break;
    h = Math.imul(h ^ b, 0x01000193);
    e++;
  }
  const n = e - start;
  if (n === 0) return "";
  if (n > MAX_INTERNED) return decodeText(bytes, start, e);
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const at = slot * MAX_INTERNED;
  if (lengths[slot] === n) {
    let i = 0;
    while (i < n && table[at + i] === bytes[start + i]) i++;
    if (i === n) return texts[slot] as string;
  }
  const s = decodeText(bytes, start, e);
  table.set(bytes.subarray(start, e), at);
  lengths[slot] = n;
  texts[slot] = s;
  return s;
}
