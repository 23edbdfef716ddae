/**
 * Kernel records → events: SAMPLE (fields in `sample_type` order), and the
 * sideband records COMM, FORK, EXIT, MMAP, MMAP2, LOST and LOST_SAMPLES with
 * their `sample_id_all` trailer. Every read stays inside the record as its
 * header sizes it; a record too short for what it claims to hold is refused
 * with the reason (the caller counts it and goes on with the next record).
 */
import type { EventFields } from "../../model/event.js";
import { cString } from "../../ftrace/c-string.js";
import { Misc, Rec } from "./constants.js";
import { PerfEvent } from "./event.js";
import type { Stream } from "./streams.js";

/** Event names of the sideband records. */
export const SIDEBAND_NAMES: Readonly<Record<number, string>> = {
  [Rec.COMM]: "perf:comm",
  [Rec.FORK]: "perf:fork",
  [Rec.EXIT]: "perf:exit",
  [Rec.MMAP]: "perf:mmap",
  [Rec.MMAP2]: "perf:mmap",
  [Rec.LOST]: "lost",
  [Rec.LOST_SAMPLES]: "lost",
};

/** A record refused, with why. */
export class BadRecord {
  constructor(readonly reason: string) {}
}

const MAX_CALLCHAIN = 1 << 16;
const EMPTY_FIELDS: EventFields = Object.freeze({}) as EventFields;

function u64Safe(v: bigint): number | bigint {
  return v <= 9007199254740991n ? Number(v) : v;
}

/** Decodes one SAMPLE record at `pos` (its header included) of `size` bytes. */
export function decodeSample(view: DataView, bytes: Uint8Array, pos: number, size: number, s: Stream, le: boolean): PerfEvent | BadRecord {
  const L = s.sample;
  if (L.fixedEnd > size) return new BadRecord(`SAMPLE of ${size} bytes is shorter than its sample_type needs (${L.fixedEnd})`);
  const ts = L.time >= 0 ? view.getBigUint64(pos + L.time, le) : 0n;
  const pid = L.tid >= 0 ? view.getInt32(pos + L.tid, le) : -1;
  const tid = L.tid >= 0 ? view.getInt32(pos + L.tid + 4, le) : -1;
  const cpu = L.cpu >= 0 ? view.getUint32(pos + L.cpu, le) : -1;
  const end = pos + size;
  let o = pos + L.fixedEnd;
  if (L.hasRead) {
    if (L.readIsGroup) {
      if (o + 8 > end) return new BadRecord("SAMPLE ends inside its READ values");
      const nr = view.getBigUint64(o, le);
      const len = BigInt(L.readGroupHead) + nr * BigInt(L.readGroupMember);
      if (BigInt(o) + len > BigInt(end)) return new BadRecord(`SAMPLE READ group of ${nr} members runs past the record`);
      o += Number(len);
    } else {
      o += L.readFixed;
    }
  }
  let callchain: bigint[] | null = null;
  if (L.hasCallchain) {
    // Tracepoint events keep only their payload; the chain is still walked to find it.
    if (o + 8 > end) return new BadRecord("SAMPLE ends inside its callchain");
    const nr = view.getBigUint64(o, le);
    if (nr > BigInt(MAX_CALLCHAIN) || o + 8 + Number(nr) * 8 > end) return new BadRecord(`SAMPLE callchain of ${nr} entries runs past the record`);
    const n = Number(nr);
    if (!L.hasRaw) {
      callchain = new Array<bigint>(n);
      for (let i = 0; i < n; i++) callchain[i] = view.getBigUint64(o + 8 + 8 * i, le);
    }
    o += 8 + 8 * n;
  }
  let fields: EventFields;
  if (L.hasRaw) {
    if (o + 4 > end) return new BadRecord("SAMPLE ends inside its RAW size");
    const rawSize = view.getUint32(o, le);
    o += 4;
    if (o + rawSize > end) return new BadRecord(`SAMPLE RAW data of ${rawSize} bytes runs past the record`);
    fields = s.decodeRaw !== null ? s.decodeRaw(view, bytes, o, rawSize) : EMPTY_FIELDS;
  } else {
    const f: EventFields = {};
    if (L.ip >= 0) f.ip = view.getBigUint64(pos + L.ip, le);
    if (L.addr >= 0) f.addr = view.getBigUint64(pos + L.addr, le);
    if (L.period >= 0) f.period = view.getBigUint64(pos + L.period, le);
    if (callchain !== null) f.callchain = callchain;
    fields = f;
  }
  return new PerfEvent(ts, cpu, pid, tid, s.name, fields);
}

/** Time, CPU and thread from a record's `sample_id_all` trailer. */
interface Trailer {
  ts: bigint;
  cpu: number;
  pid: number;
  tid: number;
}

function readTrailer(view: DataView, pos: number, size: number, s: Stream | undefined, le: boolean, out: Trailer): number {
  out.ts = 0n;
  out.cpu = -1;
  out.pid = -1;
  out.tid = -1;
  if (s === undefined || s.trailer.size === 0) return size;
  const T = s.trailer;
  const t = pos + size - T.size;
  if (T.time >= 0) out.ts = view.getBigUint64(t + T.time, le);
  if (T.cpu >= 0) out.cpu = view.getUint32(t + T.cpu, le);
  if (T.tid >= 0) {
    out.pid = view.getInt32(t + T.tid, le);
    out.tid = view.getInt32(t + T.tid + 4, le);
  }
  return size - T.size;
}

const trailer: Trailer = { ts: 0n, cpu: -1, pid: -1, tid: -1 };

/**
 * Decodes a sideband record (COMM, FORK, EXIT, MMAP, MMAP2, LOST,
 * LOST_SAMPLES). `s` is the stream its trailer belongs to (undefined when the
 * file has no trailers).
 */
export function decodeSideband(type: number, misc: number, view: DataView, bytes: Uint8Array, pos: number, size: number, s: Stream | undefined, le: boolean): PerfEvent | BadRecord {
  const trailerSize = s === undefined ? 0 : s.trailer.size;
  const minBody = MIN_BODY[type] ?? 8;
  if (size < minBody + trailerSize) return new BadRecord(`${recordName(type)} of ${size} bytes is shorter than its ${minBody + trailerSize}-byte minimum`);
  const body = readTrailer(view, pos, size, s, le, trailer);
  // perf synthesizes the threads and maps that predate the recording with an all-zero trailer: no time, no CPU.
  if (trailer.ts === 0n) trailer.cpu = -1;
  const bodyEnd = pos + body;
  const name = SIDEBAND_NAMES[type] as string;
  switch (type) {
    case Rec.COMM: {
      const pid = view.getInt32(pos + 8, le);
      const tid = view.getInt32(pos + 12, le);
      const comm = cString(bytes, pos + 16, bodyEnd);
      return new PerfEvent(trailer.ts, trailer.cpu, pid, tid, name, { pid, tid, comm, exec: (misc & Misc.COMM_EXEC) !== 0 ? 1 : 0 });
    }
    case Rec.FORK:
    case Rec.EXIT: {
      const pid = view.getInt32(pos + 8, le);
      const ppid = view.getInt32(pos + 12, le);
      const tid = view.getInt32(pos + 16, le);
      const ptid = view.getInt32(pos + 20, le);
      const time = view.getBigUint64(pos + 24, le);
      return new PerfEvent(trailer.ts, trailer.cpu, pid, tid, name, { pid, ppid, tid, ptid, time });
    }
    case Rec.MMAP:
    case Rec.MMAP2: {
      const pid = view.getInt32(pos + 8, le);
      const tid = view.getInt32(pos + 12, le);
      const fields: EventFields = {
        pid,
        tid,
        addr: view.getBigUint64(pos + 16, le),
        len: view.getBigUint64(pos + 24, le),
        pgoff: view.getBigUint64(pos + 32, le),
      };
      let nameAt = pos + 40;
      if (type === Rec.MMAP2) {
        if ((misc & Misc.MMAP_BUILD_ID) !== 0) {
          const n = Math.min(view.getUint8(pos + 40), 20);
          fields.build_id = bytes.slice(pos + 44, pos + 44 + n);
        } else {
          fields.maj = view.getUint32(pos + 40, le);
          fields.min = view.getUint32(pos + 44, le);
          fields.ino = view.getBigUint64(pos + 48, le);
          fields.ino_generation = view.getBigUint64(pos + 56, le);
        }
        fields.prot = view.getUint32(pos + 64, le);
        fields.flags = view.getUint32(pos + 68, le);
        nameAt = pos + 72;
      }
      fields.filename = cString(bytes, nameAt, bodyEnd);
      return new PerfEvent(trailer.ts, trailer.cpu, pid, tid, name, fields);
    }
    case Rec.LOST: {
      const id = view.getBigUint64(pos + 8, le);
      const count = u64Safe(view.getBigUint64(pos + 16, le));
      return new PerfEvent(trailer.ts, trailer.cpu, trailer.pid, trailer.tid, name, { id, count, record: "LOST" });
    }
    default: {
      const count = u64Safe(view.getBigUint64(pos + 8, le));
      return new PerfEvent(trailer.ts, trailer.cpu, trailer.pid, trailer.tid, name, { count, record: "LOST_SAMPLES" });
    }
  }
}

/** Where a record sits in time, read without decoding it: timestamp halves (0, 0 when it has none) and CPU. */
export interface TimeKey {
  hi: number;
  lo: number;
  cpu: number;
}

/**
 * Reads the timestamp and CPU of a SAMPLE (`type` 9) or sideband record, for
 * ordering. Returns why the record cannot be read when it is too short for its
 * layout (the caller skips it), else null.
 */
export function peekTime(type: number, view: DataView, pos: number, size: number, s: Stream | undefined, le: boolean, out: TimeKey): string | null {
  out.hi = 0;
  out.lo = 0;
  out.cpu = -1;
  let time: number;
  let cpu: number;
  if (type === Rec.SAMPLE) {
    const L = (s as Stream).sample;
    if (L.fixedEnd > size) return `SAMPLE of ${size} bytes is shorter than its sample_type needs (${L.fixedEnd})`;
    time = L.time < 0 ? -1 : pos + L.time;
    cpu = L.cpu < 0 ? -1 : pos + L.cpu;
  } else {
    const trailerSize = s === undefined ? 0 : s.trailer.size;
    const minBody = MIN_BODY[type] ?? 8;
    if (size < minBody + trailerSize) return `${recordName(type)} of ${size} bytes is shorter than its ${minBody + trailerSize}-byte minimum`;
    if (s === undefined || trailerSize === 0) return null;
    const t = pos + size - trailerSize;
    time = s.trailer.time < 0 ? -1 : t + s.trailer.time;
    cpu = s.trailer.cpu < 0 ? -1 : t + s.trailer.cpu;
  }
  if (time >= 0) {
    out.hi = view.getUint32(le ? time + 4 : time, le);
    out.lo = view.getUint32(le ? time : time + 4, le);
  }
  if (cpu >= 0) out.cpu = view.getUint32(cpu, le);
  return null;
}

/** Smallest record size (header and body, no trailer) of each sideband type. */
const MIN_BODY: Readonly<Record<number, number>> = {
  [Rec.COMM]: 16,
  [Rec.FORK]: 32,
  [Rec.EXIT]: 32,
  [Rec.MMAP]: 40,
  [Rec.MMAP2]: 72,
  [Rec.LOST]: 24,
  [Rec.LOST_SAMPLES]: 16,
};

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Rec)
    .filter(([k]) => !k.endsWith("_MAX"))
    .map(([k, v]) => [v, k]),
);

/** `COMM`, `SAMPLE`, … or `type N` for a number no one named. */
export function recordName(type: number): string {
  return NAMES[type] ?? `type ${type}`;
}
