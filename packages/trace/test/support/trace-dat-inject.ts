/**
 * Test support: adds options to a recorded trace.dat v7 — a new options
 * section appended at the end of the file, linked from the last DONE option —
 * so the time-related options a host/guest recording would carry (TIME_SHIFT,
 * GUEST, TSC2NSEC) can be tested on a real file. trace-cmd itself reads the
 * result (`trace-cmd dump --options`), which checks these encodings too.
 */
import { BufferCursor } from "../../src/ftrace/byte-cursor.js";
import { readTracingHeader } from "../../src/ftrace/tracing-data.js";
import { Bytes } from "./bytes.js";

/** The little-endian byte writer the option payloads are built with. */
export { Bytes as LeWriter };

/** Appends an options section holding `options` (then a DONE of 0) to a little-endian v7 file with uncompressed options sections. */
export function appendOptionsV7(file: Uint8Array, options: readonly { id: number; payload: Uint8Array }[]): Buffer {
  const b = Buffer.from(file);
  const h = readTracingHeader(b, "inject");
  if (h.version !== "7" || !h.littleEndian) throw new Error("appendOptionsV7 needs a little-endian v7 file");
  const c = new BufferCursor(b, true, "inject", 0, h.end);
  c.cstring(64);
  c.cstring(64);
  let sec = Number(c.u64());
  let doneAt = -1;
  for (;;) {
    if (b.readUInt16LE(sec + 2) & 1) throw new Error("appendOptionsV7: compressed options section");
    const size = Number(b.readBigUInt64LE(sec + 8));
    let q = sec + 16;
    let next = 0;
    while (q < sec + 16 + size) {
      const id = b.readUInt16LE(q);
      const len = b.readUInt32LE(q + 2);
      if (id === 0) {
        doneAt = q + 6;
        next = Number(b.readBigUInt64LE(q + 6));
        break;
      }
      q += 6 + len;
    }
    if (next === 0) break;
    sec = next;
  }
  if (doneAt < 0) throw new Error("appendOptionsV7: no DONE option found");
  const w = new Bytes();
  for (const o of options) {
    const head = Buffer.alloc(6);
    head.writeUInt16LE(o.id);
    head.writeUInt32LE(o.payload.length, 2);
    w.bytes(head).bytes(o.payload);
  }
  const done = Buffer.alloc(14); // id 0 (DONE), size 8, next options section 0
  done.writeUInt32LE(8, 2);
  const body = w.bytes(done).done();
  const hdr = Buffer.alloc(16);
  hdr.writeBigUInt64LE(BigInt(body.length), 8);
  const at = b.length;
  const out = Buffer.concat([b, hdr, body]);
  out.writeBigUInt64LE(BigInt(at), doneAt);
  return out;
}
