/**
 * The ACPI Generic Timer Description Table (GTDT), which ACPI arm64 servers
 * use instead of a device-tree timer node. Its presence means the firmware
 * describes an architected generic timer. Linux exposes it as
 * `/sys/firmware/acpi/tables/GTDT`, usually readable by root only, so a probe
 * may see that it exists without being able to read it.
 *
 * Layout read here (ACPI 6.x, little-endian): the 36-byte standard header
 * (signature `GTDT`, length u32 at 4, OEM id at 10 (6 bytes), OEM table id at
 * 16 (8 bytes), OEM revision u32 at 24), then CntControlBase (8 bytes at 36),
 * a reserved u32, and for each of the secure EL1, non-secure EL1, virtual EL1
 * and EL2 timers a GSIV u32 and a flags u32 starting at offset 48. Flag bit 2
 * is "always-on capability".
 */
import type { PropertyOutcome } from "./device-tree.js";

export const GTDT_PATH = "sys/firmware/acpi/tables/GTDT";

/** The GTDT fields the probe uses. */
export interface Gtdt {
  readonly length: number;
  readonly oemId: string;
  readonly oemTableId: string;
  readonly oemRevision: number;
  /** Always-on capability of the non-secure EL1 (physical) timer. */
  readonly nonSecureEl1AlwaysOn: boolean;
  /** Always-on capability of the virtual EL1 timer. */
  readonly virtualEl1AlwaysOn: boolean;
}

const ALWAYS_ON = 1 << 2;
/** Header plus the four timers' GSIV/flags pairs. */
const MIN_LENGTH = 80;

/** Decodes the fixed part of a GTDT. */
export function parseGtdt(bytes: Uint8Array): PropertyOutcome<Gtdt> {
  if (bytes.length < MIN_LENGTH) return { ok: false, reason: `${bytes.length} bytes; a GTDT has at least ${MIN_LENGTH}` };
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (ascii(0, 4) !== "GTDT") return { ok: false, reason: `signature ${JSON.stringify(ascii(0, 4))}, not "GTDT"` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = dv.getUint32(4, true);
  if (length !== bytes.length) return { ok: false, reason: `header length ${length} but the table has ${bytes.length} bytes` };
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  if (sum !== 0) return { ok: false, reason: "checksum does not sum to zero" };
  return {
    ok: true,
    value: {
      length,
      oemId: ascii(10, 16),
      oemTableId: ascii(16, 24),
      oemRevision: dv.getUint32(24, true),
      nonSecureEl1AlwaysOn: (dv.getUint32(60, true) & ALWAYS_ON) !== 0,
      virtualEl1AlwaysOn: (dv.getUint32(68, true) & ALWAYS_ON) !== 0,
    },
  };
}
