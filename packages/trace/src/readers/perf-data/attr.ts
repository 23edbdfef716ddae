/**
 * `perf_event_attr`: what each event stream recorded, and from it the byte
 * layout of its SAMPLE records and of the `sample_id_all` trailer that other
 * records carry. The layouts are computed once per attr so that decoding a
 * record is a few fixed-offset reads.
 */
import { ATTR_SIZE_VER0, AttrFlag, ReadFormat, Sample } from "./constants.js";

/** The parts of a `perf_event_attr` this reader uses. */
export interface PerfAttr {
  readonly type: number;
  readonly config: bigint;
  readonly sampleType: number;
  readonly readFormat: number;
  readonly sampleIdAll: boolean;
  /** The clock id when `use_clockid` is set, else null. */
  readonly clockId: number | null;
}

/**
 * Reads a `perf_event_attr` of `avail` bytes at `off`. Returns null when fewer
 * than the 64 bytes every version has are there.
 */
export function parseAttr(view: DataView, off: number, avail: number, le: boolean): PerfAttr | null {
  if (avail < ATTR_SIZE_VER0) return null;
  // The attr says its own size; never trust it past what the container gives.
  const declared = view.getUint32(off + 4, le);
  const size = declared >= ATTR_SIZE_VER0 ? Math.min(declared, avail) : avail;
  const flags = view.getBigUint64(off + 40, le);
  const useClockId = ((flags >> BigInt(AttrFlag.USE_CLOCKID)) & 1n) === 1n;
  // Bits above 31 of sample_type (WEIGHT_STRUCT is bit 24) are beyond anything read here,
  // but they still change nothing before RAW, so the low word suffices.
  return {
    type: view.getUint32(off, le),
    config: view.getBigUint64(off + 8, le),
    sampleType: Number(view.getBigUint64(off + 24, le) & 0xffffffffn),
    readFormat: Number(view.getBigUint64(off + 32, le) & 0xffffffffn),
    sampleIdAll: ((flags >> BigInt(AttrFlag.SAMPLE_ID_ALL)) & 1n) === 1n,
    clockId: useClockId && size >= 96 ? view.getInt32(off + 92, le) : null,
  };
}

/**
 * Where each fixed field of a SAMPLE record sits (byte offsets from the record
 * start, -1 when absent), and what follows them. Every field up to PERIOD has
 * a fixed size, so only READ, CALLCHAIN and RAW need walking.
 */
export interface SampleLayout {
  readonly identifier: number;
  readonly ip: number;
  readonly tid: number;
  readonly time: number;
  readonly addr: number;
  readonly id: number;
  readonly streamId: number;
  readonly cpu: number;
  readonly period: number;
  /** Offset where the variable part (READ, CALLCHAIN, RAW) starts. */
  readonly fixedEnd: number;
  readonly hasRead: boolean;
  readonly hasCallchain: boolean;
  readonly hasRaw: boolean;
  /** READ values: fixed size when not a group, else per-member size after `nr`. */
  readonly readFixed: number;
  readonly readGroupHead: number;
  readonly readGroupMember: number;
  readonly readIsGroup: boolean;
}

const HEADER = 8;

/** The SAMPLE record layout for a `sample_type` / `read_format`. */
export function sampleLayout(sampleType: number, readFormat: number): SampleLayout {
  let o = HEADER;
  const take = (bit: number, bytes = 8): number => {
    if ((sampleType & bit) === 0) return -1;
    const at = o;
    o += bytes;
    return at;
  };
  const identifier = take(Sample.IDENTIFIER);
  const ip = take(Sample.IP);
  const tid = take(Sample.TID);
  const time = take(Sample.TIME);
  const addr = take(Sample.ADDR);
  const id = take(Sample.ID);
  const streamId = take(Sample.STREAM_ID);
  const cpu = take(Sample.CPU);
  const period = take(Sample.PERIOD);
  const times = ((readFormat & ReadFormat.TOTAL_TIME_ENABLED) !== 0 ? 1 : 0) + ((readFormat & ReadFormat.TOTAL_TIME_RUNNING) !== 0 ? 1 : 0);
  const perValue = 1 + ((readFormat & ReadFormat.ID) !== 0 ? 1 : 0) + ((readFormat & ReadFormat.LOST) !== 0 ? 1 : 0);
  return {
    identifier,
    ip,
    tid,
    time,
    addr,
    id,
    streamId,
    cpu,
    period,
    fixedEnd: o,
    hasRead: (sampleType & Sample.READ) !== 0,
    hasCallchain: (sampleType & Sample.CALLCHAIN) !== 0,
    hasRaw: (sampleType & Sample.RAW) !== 0,
    readIsGroup: (readFormat & ReadFormat.GROUP) !== 0,
    readFixed: 8 * (times + perValue),
    readGroupHead: 8 * (1 + times),
    readGroupMember: 8 * perValue,
  };
}

/**
 * The `sample_id_all` trailer at the end of non-SAMPLE records: offsets from
 * the trailer start (-1 when absent) and its size.
 */
export interface TrailerLayout {
  readonly size: number;
  readonly tid: number;
  readonly time: number;
  readonly id: number;
  readonly streamId: number;
  readonly cpu: number;
  readonly identifier: number;
}

/** The trailer layout for a `sample_type`; size 0 when the attr has no `sample_id_all`. */
export function trailerLayout(sampleType: number, sampleIdAll: boolean): TrailerLayout {
  if (!sampleIdAll) return { size: 0, tid: -1, time: -1, id: -1, streamId: -1, cpu: -1, identifier: -1 };
  let o = 0;
  const take = (bit: number): number => {
    if ((sampleType & bit) === 0) return -1;
    const at = o;
    o += 8;
    return at;
  };
  const tid = take(Sample.TID);
  const time = take(Sample.TIME);
  const id = take(Sample.ID);
  const streamId = take(Sample.STREAM_ID);
  const cpu = take(Sample.CPU);
  const identifier = take(Sample.IDENTIFIER);
  return { size: o, tid, time, id, streamId, cpu, identifier };
}

/**
 * Where the event id sits: in SAMPLE records, bytes from the record start; in
 * other records, bytes back from the record end. -1 when the records carry no id.
 * perf requires every attr of a file to agree on these (it could not find the
 * attr otherwise), so one pair serves the whole file.
 */
export function idPositions(sampleType: number, sampleIdAll: boolean): { readonly sample: number; readonly trailer: number } {
  const s = sampleLayout(sampleType, 0);
  const sample = s.identifier >= 0 ? s.identifier : s.id;
  const t = trailerLayout(sampleType, sampleIdAll);
  const trailerPos = t.identifier >= 0 ? t.identifier : t.id;
  return { sample, trailer: trailerPos < 0 ? -1 : t.size - trailerPos };
}
