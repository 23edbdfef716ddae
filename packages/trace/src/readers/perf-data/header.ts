/**
 * The PERFILE2 header: byte order, file or pipe mode, the attrs with their
 * ids, where the data section is, and (file mode) the feature sections after
 * it. Every section is checked against the file size and against the others
 * before anything is read from it.
 */
import { parseAttr, type PerfAttr } from "./attr.js";
import { FILE_HEADER_SIZE, PIPE_HEADER_SIZE } from "./constants.js";
import { at, invalid } from "./errors.js";
import { emptyMeta, readFeature, type PerfMeta } from "./features.js";
import { readAt, type TraceFile } from "./file-source.js";
import type { WarningLog } from "./warnings.js";

/** One attr of the file and the ids of its event streams (one per CPU or thread). */
export interface AttrEntry {
  readonly attr: PerfAttr;
  readonly ids: readonly bigint[];
}

export interface PerfHeader {
  readonly littleEndian: boolean;
  readonly pipe: boolean;
  readonly dataStart: number;
  readonly dataEnd: number;
  readonly attrs: AttrEntry[];
  readonly meta: PerfMeta;
}

const MAGIC_LE = "PERFILE2";
const MAGIC_BE = "2ELIFREP";
/** An older PERFILE2 header without the feature bitmap (perf accepts it too). */
const HEADER_SIZE_NO_FEATURES = 72;
const MAX_ATTRS = 1 << 16;
const MAX_IDS = 1 << 20;
const MAX_ATTR_SIZE = 4096;
/** A feature section larger than this is skipped (tracing data of a few thousand events is a few MiB). */
export const MAX_FEATURE_BYTES = 64 << 20;

function magicOf(b: Uint8Array): string {
  return String.fromCharCode(...b.subarray(0, 8));
}

/** True when `head` starts like a perf.data file (either byte order, file or pipe mode). */
export function isPerfData(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  const m = magicOf(head);
  return m === MAGIC_LE || m === MAGIC_BE;
}

interface Section {
  readonly offset: number;
  readonly size: number;
}

function overlaps(a: Section, b: Section): boolean {
  return a.size > 0 && b.size > 0 && a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

/**
 * Reads the header of an open perf.data file. In pipe mode the attrs and
 * features are records in the stream; the caller collects them.
 * @throws ClocksourceError `INVALID_TRACE` naming the offset
 */
export async function readHeader(file: TraceFile, warn: WarningLog): Promise<PerfHeader> {
  const path = file.path;
  const head = await readAt(file, 0, FILE_HEADER_SIZE);
  if (head.length < PIPE_HEADER_SIZE) throw invalid(path, 0, `${file.size} bytes is too short for a perf.data header`);
  const magic = magicOf(head);
  if (magic === "PERFFILE") throw invalid(path, 0, "perf.data version 1 (PERFFILE) is not supported; only PERFILE2");
  if (magic !== MAGIC_LE && magic !== MAGIC_BE) throw invalid(path, 0, "not a perf.data file (no PERFILE2 magic)");
  const le = magic === MAGIC_LE;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const u64 = (o: number): number => {
    const v = view.getBigUint64(o, le);
    // Offsets and sizes beyond 2^53 cannot be in any file; say so instead of losing precision.
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, o, `value ${v} is not a plausible offset or size`);
    return Number(v);
  };
  const headerSize = u64(8);
  if (headerSize === PIPE_HEADER_SIZE) {
    return { littleEndian: le, pipe: true, dataStart: PIPE_HEADER_SIZE, dataEnd: file.size, attrs: [], meta: emptyMeta() };
  }
  if (headerSize !== FILE_HEADER_SIZE && headerSize !== HEADER_SIZE_NO_FEATURES) {
    throw invalid(path, 8, `header size ${headerSize} (expected ${FILE_HEADER_SIZE}, or ${PIPE_HEADER_SIZE} for pipe mode)`);
  }
  if (head.length < headerSize) throw invalid(path, head.length, `file ends inside the ${headerSize}-byte header`);
  const attrSize = u64(16);
  const attrs: Section = { offset: u64(24), size: u64(32) };
  const data: Section = { offset: u64(40), size: u64(48) };
  const header: Section = { offset: 0, size: headerSize };

  if (data.offset < headerSize || data.offset > file.size) throw invalid(path, 40, `data section offset ${data.offset} outside the file (${file.size} bytes)`);
  let dataEnd = data.offset + data.size;
  let featuresUsable = headerSize === FILE_HEADER_SIZE;
  if (data.size === 0 && file.size > data.offset) {
    warn.add("header", `${at(48)}: data size is 0 in the header (perf record did not end properly?); reading to the end of the file`);
    dataEnd = file.size;
    featuresUsable = false;
  } else if (dataEnd > file.size) {
    warn.add("header", `${at(48)}: data section ends at ${dataEnd} but the file has ${file.size} bytes (truncated); no header features`);
    dataEnd = file.size;
    featuresUsable = false;
  }

  // Attrs.
  if (attrSize < 64 + 16 || attrSize > MAX_ATTR_SIZE + 16) throw invalid(path, 16, `attr size ${attrSize} is implausible`);
  if (attrs.size % attrSize !== 0) throw invalid(path, 32, `attrs section size ${attrs.size} is not a multiple of the attr size ${attrSize}`);
  if (attrs.size / attrSize > MAX_ATTRS) throw invalid(path, 32, `${attrs.size / attrSize} attrs`);
  if (attrs.offset + attrs.size > file.size) throw invalid(path, 24, `attrs section [${attrs.offset}, +${attrs.size}) beyond the end of the file (${file.size} bytes)`);
  if (overlaps(attrs, header) || overlaps(attrs, { offset: data.offset, size: dataEnd - data.offset })) {
    throw invalid(path, 24, `attrs section [${attrs.offset}, +${attrs.size}) overlaps the header or the data section`);
  }
  if (attrs.size === 0) throw invalid(path, 32, "no attrs: the file describes no events");
  const attrBytes = await readAt(file, attrs.offset, attrs.size);
  const av = new DataView(attrBytes.buffer, attrBytes.byteOffset, attrBytes.byteLength);
  const entries: AttrEntry[] = [];
  for (let off = 0; off < attrs.size; off += attrSize) {
    const where = attrs.offset + off;
    const attr = parseAttr(av, off, attrSize - 16, le);
    if (attr === null) throw invalid(path, where, "attr too short");
    const ids: Section = { offset: Number(av.getBigUint64(off + attrSize - 16, le)), size: Number(av.getBigUint64(off + attrSize - 8, le)) };
    const idsWhere = where + attrSize - 16;
    if (ids.size % 8 !== 0 || ids.size / 8 > MAX_IDS) throw invalid(path, idsWhere, `ids section size ${ids.size} is implausible`);
    if (!Number.isSafeInteger(ids.offset) || ids.offset + ids.size > file.size) throw invalid(path, idsWhere, `ids section [${ids.offset}, +${ids.size}) beyond the end of the file`);
    if (overlaps(ids, header) || overlaps(ids, { offset: data.offset, size: dataEnd - data.offset })) {
      throw invalid(path, idsWhere, `ids section [${ids.offset}, +${ids.size}) overlaps the header or the data section`);
    }
    const idBytes = await readAt(file, ids.offset, ids.size);
    const iv = new DataView(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength);
    const list: bigint[] = [];
    for (let k = 0; k < ids.size; k += 8) list.push(iv.getBigUint64(k, le));
    entries.push({ attr, ids: list });
  }

  const meta = emptyMeta();
  if (featuresUsable) await readFeatures(file, view, le, data.offset + data.size, meta, warn);
  return { littleEndian: le, pipe: false, dataStart: data.offset, dataEnd, attrs: entries, meta };
}

/** The feature table: one `{offset, size}` per bit set in the 256-bit bitmap, in bit order. */
async function readFeatures(file: TraceFile, head: DataView, le: boolean, tableAt: number, meta: PerfMeta, warn: WarningLog): Promise<void> {
  const bits: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = head.getBigUint64(72 + 8 * w, le);
    for (let b = 0; b < 64; b++) if ((word >> BigInt(b)) & 1n) bits.push(64 * w + b);
  }
  if (bits.length === 0) return;
  if (bits[0] === 0) warn.add("feature", `${at(72)}: reserved feature bit 0 is set`);
  const table = await readAt(file, tableAt, bits.length * 16);
  if (table.length < bits.length * 16) {
    warn.add("feature", `${at(tableAt)}: the feature table (${bits.length} entries) runs past the end of the file; features ignored`);
    return;
  }
  const tv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  for (let i = 0; i < bits.length; i++) {
    const feat = bits[i] as number;
    const entryAt = tableAt + 16 * i;
    const offset = tv.getBigUint64(16 * i, le);
    const size = tv.getBigUint64(16 * i + 8, le);
    if (offset + size > BigInt(file.size)) {
      warn.add("feature", `${at(entryAt)}: header feature ${feat} at [${offset}, +${size}) is beyond the end of the file; ignored`);
      continue;
    }
    if (size > BigInt(MAX_FEATURE_BYTES)) {
      warn.add("feature", `${at(entryAt)}: header feature ${feat} is ${size} bytes (limit ${MAX_FEATURE_BYTES}); ignored`);
      continue;
    }
    const bytes = await readAt(file, Number(offset), Number(size));
    readFeature(feat, bytes, Number(offset), le, meta, warn);
  }
}
