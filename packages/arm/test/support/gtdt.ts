/** Builds a GTDT (ACPI 6.x layout) with a valid checksum. */
export function gtdt(oemId: string, oemTableId: string, oemRevision: number, nsFlags: number, virtFlags: number, length = 104): Uint8Array {
  const b = new Uint8Array(length);
  const dv = new DataView(b.buffer);
  b.set(new TextEncoder().encode("GTDT"), 0);
  dv.setUint32(4, length, true);
  b[8] = 2;
  b.set(new TextEncoder().encode(oemId.padEnd(6).slice(0, 6)), 10);
  b.set(new TextEncoder().encode(oemTableId.padEnd(8).slice(0, 8)), 16);
  dv.setUint32(24, oemRevision, true);
  dv.setUint32(56, 30, true); // non-secure EL1 GSIV
  dv.setUint32(60, nsFlags, true);
  dv.setUint32(64, 27, true); // virtual EL1 GSIV
  dv.setUint32(68, virtFlags, true);
  let sum = 0;
  for (const x of b) sum = (sum + x) & 0xff;
  b[9] = (256 - sum) & 0xff;
  return b;
}
