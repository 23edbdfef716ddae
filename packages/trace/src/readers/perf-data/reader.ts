/**
 * An opened perf.data file: the header and what the stream's leading records
 * say (pipe mode keeps its attrs and features there; TIME_CONV sits there in
 * both modes) are read at open; `batches()` then streams the data section
 * chunk by chunk, decodes each record, and lets events out in time order
 * round by round (see `RoundQueue`). Memory: one chunk, one round of events,
 * the thread-name table.
 */
import type { ReaderOptions } from "../../model/format-reader.js";
import type { PerfTimeConv, TimeRecords, TraceClock, TraceEvent, TraceInfo, TraceReader } from "../../model/event.js";
import { CLOCK_NAMES, Feat, Rec } from "./constants.js";
import { at, invalid } from "./errors.js";
import { readFeature, type EventDesc, type PerfMeta } from "./features.js";
import type { TracingData } from "../../ftrace/index.js";
import { CompressedRecords } from "./compressed.js";
import { ChunkStream, openTraceFile, type TraceFile } from "./file-source.js";
import { MAX_FEATURE_BYTES, readHeader, type PerfHeader } from "./header.js";
import { BadRecord, decodeSample, decodeSideband, peekTime, recordName, type TimeKey } from "./records.js";
import { Arena, RoundQueue } from "./reorder.js";
import { Streams, type Stream } from "./streams.js";
import { ThreadNames } from "./threads.js";
import { readTracing } from "./tracing.js";
import { parseEventUpdateName, parseHeaderAttr, parseTimeConv } from "./user-records.js";
import { WarningLog } from "./warnings.js";

/** How far the open-time scan of leading records goes at most. */
const PRESCAN_BYTES = 64 << 20;
const DEFAULT_BATCH = 4096;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What the open-time scan found. */
interface Prescan {
  /** File offset up to which header-like records were taken in (the main pass skips them before it). */
  end: number;
  timeConv: PerfTimeConv | null;
}

/**
 * Reads the records at the start of the data section that describe the
 * recording, up to the first event record of the recording proper (a SAMPLE,
 * or FINISHED_ROUND) or {@link PRESCAN_BYTES}. Header records that come later
 * are taken in by the main pass.
 */
async function prescan(file: TraceFile, h: PerfHeader, streams: Streams, warn: WarningLog): Promise<Prescan> {
  const le = h.littleEndian;
  const st = new ChunkStream(file, h.dataStart, h.dataEnd, 256 << 10);
  const result: Prescan = { end: h.dataStart, timeConv: null };
  const renames: { id: bigint; name: string }[] = [];
  while (st.offset - h.dataStart < PRESCAN_BYTES) {
    if (!(await st.ensure(8))) break;
    const size = st.view.getUint16(st.pos + 6, le);
    if (size < 8 || !(await st.ensure(size))) break;
    const p = st.pos;
    const v = st.view;
    const type = v.getUint32(p, le);
    if (type === Rec.SAMPLE || type === Rec.FINISHED_ROUND) break;
    const offset = st.offset;
    if (type === Rec.HEADER_ATTR) {
      const a = parseHeaderAttr(v, p, size, le);
      if (typeof a === "string") warn.add("record", `${at(offset)}: ${a}; skipped`);
      else streams.add(a.attr, a.ids);
    } else if (type === Rec.HEADER_FEATURE && size >= 16) {
      const feat = v.getBigUint64(p + 8, le);
      // perf ends the pipe-mode features with an empty record for HEADER_LAST_FEATURE, whose number grows with perf's version.
      if (size === 16 && feat >= BigInt(Feat.KNOWN_MAX)) {
        // end mark
      } else if (feat < 256n) readFeature(Number(feat), st.bytes.slice(p + 16, p + size), offset + 16, le, h.meta, warn);
      else warn.add("unknown-feature", `${at(offset)}: HEADER_FEATURE record for feature ${feat} skipped`);
    } else if (type === Rec.EVENT_UPDATE) {
      const u = parseEventUpdateName(v, st.bytes, p, size, le);
      if (u) renames.push(u);
    } else if (type === Rec.TIME_CONV) {
      const t = parseTimeConv(v, p, size, le);
      if (typeof t === "string") warn.add("record", `${at(offset)}: ${t}; skipped`);
      else result.timeConv = t;
    } else if (type === Rec.HEADER_TRACING_DATA) {
      // The block follows the record, outside its size (u32 length at +8, padded to 8 bytes).
      const len = size >= 12 ? v.getUint32(p + 8, le) : 0;
      st.skip(size);
      if (len > MAX_FEATURE_BYTES) {
        warn.add("tracing-data", `${at(offset)}: HEADER_TRACING_DATA of ${len} bytes exceeds ${MAX_FEATURE_BYTES}; skipped`);
        st.skip(len);
      } else {
        const bytes = await st.take(len);
        if (bytes.length === len) h.meta.tracingData = { bytes, offset: offset + size };
      }
      result.end = st.offset;
      continue;
    } else if (type === Rec.AUXTRACE && size >= 16) {
      st.skip(size + Number(v.getBigUint64(p + 8, le) & 0xffffffffffffn));
      result.end = st.offset;
      continue;
    }
    st.skip(size);
    result.end = st.offset;
  }
  for (const r of renames) streams.rename(r.id, r.name);
  return result;
}

function clockOf(streams: Streams, meta: PerfMeta): { clock: TraceClock; clockId: number | null } {
  const withClock = streams.list.find((s) => s.attr.clockId !== null);
  if (withClock && withClock.attr.clockId !== null) {
    const id = withClock.attr.clockId;
    return { clock: { name: CLOCK_NAMES[id] ?? `clockid ${id}`, unit: "ns", source: "perf_event_attr.clockid" }, clockId: id };
  }
  if (meta.clockData) {
    const id = meta.clockData.clockId;
    return { clock: { name: CLOCK_NAMES[id] ?? `clockid ${id}`, unit: "ns", source: "HEADER_CLOCK_DATA" }, clockId: id };
  }
  // Without -k, perf timestamps come from the kernel's perf_clock (local_clock): ftrace calls it "perf" too.
  return { clock: { name: "perf", unit: "ns", source: "default" }, clockId: null };
}

/**
 * Opens a perf.data file and reads everything but the events.
 * @throws ClocksourceError `INVALID_TRACE` naming the offset, `IO_ERROR`
 */
export async function openPerfData(path: string, options: ReaderOptions = {}): Promise<TraceReader> {
  const file = await openTraceFile(path);
  try {
    const warn = new WarningLog(path);
    const h = await readHeader(file, warn);
    const streams = new Streams(h.littleEndian);
    for (const a of h.attrs) streams.add(a.attr, a.ids);
    const pre = await prescan(file, h, streams, warn);
    if (streams.list.length === 0) throw invalid(path, h.dataStart, "no attrs: the file describes no events (no HEADER_ATTR record in pipe mode)");
    if (streams.inconsistent) warn.add("attrs", `${at(h.dataStart)}: attrs disagree on where the event id sits; records are matched with the first attr's layout, as perf would`);
    const meta = h.meta;
    const tracing = meta.tracingData ? readTracing(meta.tracingData.bytes, meta.tracingData.offset, h.littleEndian, warn) : null;
    streams.describe(tracing, meta.eventDesc);
    const { clock, clockId } = clockOf(streams, meta);
    const timeRecords: Mutable<TimeRecords> = {};
    if (pre.timeConv) timeRecords.perfTimeConv = pre.timeConv;
    if (clockId !== null) timeRecords.perfClockId = clockId;
    if (meta.clockResolutionNs !== null) timeRecords.perfClockResolutionNs = meta.clockResolutionNs;
    if (meta.clockData) timeRecords.perfClockData = meta.clockData;
    const cpus = meta.nrCpusOnline ?? meta.nrCpusAvailable ?? 0;
    const properties: Record<string, string> = { mode: h.pipe ? "pipe" : "file", ...meta.properties };
    if (meta.sampleTime) {
      properties.firstSampleTime = meta.sampleTime.first.toString();
      properties.lastSampleTime = meta.sampleTime.last.toString();
    }
    const info: TraceInfo = {
      format: "perf.data",
      version: "PERFILE2",
      compression: meta.compression ? (meta.compression.type === 1 ? "zstd" : `type ${meta.compression.type}`) : null,
      clock,
      buffers: [{ name: "", clock, cpus: Array.from({ length: Math.min(cpus, 4096) }, (_, i) => i) }],
      cpuCount: meta.nrCpusAvailable ?? meta.nrCpusOnline,
      timeRecords,
      warnings: warn.list,
      properties,
    };
    return new PerfDataReader(file, h, streams, info, timeRecords, pre, new ThreadNames(tracing?.cmdlines), warn, options.batchSize ?? DEFAULT_BATCH, tracing);
  } catch (e) {
    await file.handle.close().catch(() => undefined);
    throw e;
  }
}

/** The records that become events: SAMPLE and the sideband the model has. */
function isEventRecord(type: number): boolean {
  return type === Rec.SAMPLE || type === Rec.COMM || type === Rec.FORK || type === Rec.EXIT || type === Rec.MMAP || type === Rec.MMAP2 || type === Rec.LOST || type === Rec.LOST_SAMPLES;
}

class PerfDataReader implements TraceReader {
  private used = false;
  private closed = false;

  constructor(
    private readonly file: TraceFile,
    private readonly h: PerfHeader,
    private readonly streams: Streams,
    readonly info: TraceInfo,
    private readonly timeRecords: Mutable<TimeRecords>,
    private readonly pre: Prescan,
    private readonly threads: ThreadNames,
    private readonly warn: WarningLog,
    private readonly batchSize: number,
    private tracing: TracingData | null,
  ) {}

  get warnings(): readonly string[] {
    return this.warn.list;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.handle.close();
  }

  async *batches(): AsyncIterable<readonly TraceEvent[]> {
    if (this.used) throw new Error("perf.data reader: batches() can be iterated once");
    this.used = true;
    const { h, streams, threads, warn, file } = this;
    const le = h.littleEndian;
    const path = file.path;
    const batch = this.batchSize;
    let out: TraceEvent[] = [];
    const queue = new RoundQueue();
    const arena = queue.arena;
    const key: TimeKey = { hi: 0, lo: 0, cpu: -1 };

    // Decodes one record and lets its event out: records are decoded only here, in output order.
    const emit = (type: number, view: DataView, bytes: Uint8Array, p: number, s: Stream | undefined, fileOffset: number): void => {
      const misc = view.getUint16(p + 4, le);
      const size = view.getUint16(p + 6, le);
      const e = type === Rec.SAMPLE ? decodeSample(view, bytes, p, size, s as Stream, le) : decodeSideband(type, misc, view, bytes, p, size, s, le);
      if (e instanceof BadRecord) {
        warn.add("bad-record", `${at(fileOffset)}: ${e.reason}; skipped`);
        return;
      }
      const name = e.name;
      if (name === "perf:comm") threads.set(e.tid, e.fields.comm as string);
      else if (name === "perf:fork") threads.fork(e.tid, e.fields.ptid as number);
      else if (name === "lost") warn.add("lost", `${at(fileOffset)}: ${String(e.fields.count)} events lost (${recordName(type)} record)`);
      e.comm = e.tid >= 0 ? threads.get(e.tid) : null;
      out.push(e);
    };
    const list = streams.list;
    // Lets out what the queue has released, decoding as it goes, a batch at a time (decoded objects stay young).
    function* drain(): Generator<TraceEvent[]> {
      for (let r = queue.peekReady(); r !== undefined; r = queue.peekReady()) {
        while (r.from < r.to) {
          const j = r.from++;
          const pos = r.pos[j] as number;
          const view = arena.viewAt(pos);
          const p = Arena.local(pos);
          const sid = r.sid[j] as number;
          emit(view.getUint32(p, le), view, arena.bytesAt(pos), p, sid >= 0 ? list[sid] : undefined, r.fileOff[j] as number);
          if (out.length >= batch) {
            yield out;
            out = [];
          }
        }
      }
    }
    const single = list.length === 1 ? list[0] : undefined;
    const st = new ChunkStream(file, h.dataStart, h.dataEnd);
    let failure: Error | null = null;

    // A SAMPLE or sideband record: its stream, its time; out at once when untimed, else queued for its round.
    const take = (type: number, v: DataView, bytes: Uint8Array, p: number, size: number, fileOffset: number): void => {
      let s: Stream | undefined | null;
      if (type === Rec.SAMPLE) {
        s = single;
        if (s === undefined) {
          const idPos = streams.sampleIdPos;
          if (idPos < 0) s = list[0];
          else if (idPos + 8 <= size) s = streams.byIdAt(v, p + idPos);
          if (s === undefined) {
            const id = idPos >= 0 && idPos + 8 <= size ? streams.idAt(v, p + idPos) : null;
            warn.add("unknown-id", `${at(fileOffset)}: SAMPLE for unknown event id ${id}; skipped`);
            return;
          }
        }
      } else {
        s = this.trailerStream(v, p, size, single);
        if (s === null) {
          warn.add("unknown-id", `${at(fileOffset)}: ${recordName(type)} for an unknown event id; skipped`);
          return;
        }
      }
      const bad = peekTime(type, v, p, size, s, le, key);
      if (bad !== null) warn.add("bad-record", `${at(fileOffset)}: ${bad}; skipped`);
      // Untimed records go out at once, as in perf.
      else if (key.hi === 0 && key.lo === 0) emit(type, v, bytes, p, s, fileOffset);
      else queue.push(bytes, p, size, key.hi, key.lo, key.cpu, s === undefined ? -1 : s.index, fileOffset);
    };

    // perf record -z: the kernel's records inside COMPRESSED payloads (messages name the COMPRESSED record).
    let zOffset = 0;
    let compressed: CompressedRecords | null = null;
    const takeCompressed = (v: DataView, bytes: Uint8Array, p: number, size: number): void => {
      const type = v.getUint32(p, le);
      if (isEventRecord(type)) take(type, v, bytes, p, size, zOffset);
      else if (type >= Rec.KERNEL_MAX) warn.add("unknown-record", `${at(zOffset)}: record type ${type} inside compressed data skipped`);
    };

    for (;;) {
      // What the last round let out goes first.
      yield* drain();
      if (st.available < 8) {
        if (st.remaining <= 0) break;
        if (!(await st.ensure(8))) {
          failure = invalid(path, st.offset, `the file ends inside a record header (${st.remaining} bytes left of the data section)`);
          break;
        }
      }
      let p = st.pos;
      const type = st.view.getUint32(p, le);
      const size = st.view.getUint16(p + 6, le);
      if (size < 8) {
        failure = invalid(path, st.offset, `${recordName(type)} record claims size ${size} (a record is at least 8 bytes)`);
        break;
      }
      if (st.available < size) {
        if (!(await st.ensure(size))) {
          failure = invalid(path, st.offset, `${recordName(type)} record of ${size} bytes runs past the end of the data (${st.remaining} bytes left)`);
          break;
        }
        p = st.pos;
      }
      const v = st.view;
      if (isEventRecord(type)) {
        take(type, v, st.bytes, p, size, st.offset);
        st.skip(size);
        if (out.length >= batch) {
          yield out;
          out = [];
        }
        continue;
      }
      if (type < Rec.KERNEL_MAX) {
        // Other kernel records (THROTTLE, SWITCH, KSYMBOL, …) are known and carry nothing modelled here.
        if (type === 0) warn.add("unknown-record", `${at(st.offset)}: record type 0 (${size} bytes) skipped`);
        st.skip(size);
        continue;
      }
      switch (type) {
        case Rec.FINISHED_ROUND:
          queue.round();
          break;
        case Rec.HEADER_TRACING_DATA: {
          // Its block follows the record, outside the record's size.
          const len = size >= 12 ? v.getUint32(p + 8, le) : 0;
          const late = st.offset >= this.pre.end;
          const offset = st.offset + size;
          st.skip(size);
          if (late && len <= MAX_FEATURE_BYTES) {
            // Pipe mode after the first events (perf inject can do that): formats for what follows.
            const bytes = await st.take(len);
            if (bytes.length === len) this.describe(readTracing(bytes, offset, le, warn), undefined);
          } else {
            st.skip(len);
          }
          continue;
        }
        case Rec.HEADER_FEATURE:
          if (st.offset >= this.pre.end && size > 16) {
            const feat = v.getBigUint64(p + 8, le);
            if (feat < 256n) {
              readFeature(Number(feat), st.bytes.slice(p + 16, p + size), st.offset + 16, le, this.h.meta, warn);
              if (feat === BigInt(Feat.EVENT_DESC)) this.describe(undefined, this.h.meta.eventDesc);
            }
          }
          break;
        case Rec.AUXTRACE: {
          if (size < 16) break;
          const len = v.getBigUint64(p + 8, le);
          warn.add("auxtrace", `${at(st.offset)}: AUXTRACE data (${len} bytes) skipped: hardware trace decoding is not supported`);
          st.skip(size);
          if (len > BigInt(st.remaining)) {
            failure = invalid(path, st.offset, `AUXTRACE data of ${len} bytes runs past the end of the data`);
            break;
          }
          st.skip(Number(len));
          continue;
        }
        case Rec.HEADER_ATTR:
          if (st.offset >= this.pre.end) {
            const a = parseHeaderAttr(v, p, size, le);
            if (typeof a === "string") warn.add("record", `${at(st.offset)}: ${a}; skipped`);
            else streams.add(a.attr, a.ids);
          }
          break;
        case Rec.TIME_CONV:
          if (st.offset >= this.pre.end) {
            const t = parseTimeConv(v, p, size, le);
            if (typeof t === "string") warn.add("record", `${at(st.offset)}: ${t}; skipped`);
            else this.timeRecords.perfTimeConv = t;
          }
          break;
        case Rec.EVENT_UPDATE:
          if (st.offset >= this.pre.end) {
            const u = parseEventUpdateName(v, st.bytes, p, size, le);
            if (u) streams.rename(u.id, u.name);
          }
          break;
        case Rec.COMPRESSED:
        case Rec.COMPRESSED2: {
          // COMPRESSED: the payload fills the record; COMPRESSED2: a u64 payload size first, then padding to 8 bytes.
          const start = type === Rec.COMPRESSED ? 8 : 16;
          let len = size - start;
          if (type === Rec.COMPRESSED2 && size >= 16) len = Math.min(len, Number(v.getBigUint64(p + 8, le) & 0xffffn));
          if (len <= 0) break;
          compressed ??= new CompressedRecords(le, takeCompressed);
          zOffset = st.offset;
          const problem = compressed.push(st.bytes.subarray(p + start, p + start + len));
          if (problem !== null) warn.add("compressed", `${at(st.offset)}: ${problem}; the compressed records from here on are skipped`);
          break;
        }
        case Rec.AUXTRACE_ERROR:
          warn.add("auxtrace", `${at(st.offset)}: AUXTRACE_ERROR record`);
          break;
        default:
          if (type >= Rec.USER_MAX || type < Rec.HEADER_ATTR) {
            warn.add("unknown-record", `${at(st.offset)}: unknown record type ${type} (${size} bytes) skipped`);
          }
      }
      if (failure) break;
      st.skip(size);
    }
    if (compressed !== null && compressed.broken === null && compressed.leftover > 0) {
      warn.add("compressed", `${at(zOffset)}: the compressed data ends inside a record (${compressed.leftover} bytes)`);
    }
    queue.finish();
    yield* drain();
    if (queue.unordered > 0) warn.add("order", `${queue.unordered} events arrived after newer ones had gone out (a round was not ordered; perf reports these too)`);
    if (queue.overflows > 0) warn.add("order", `${queue.overflows} times more than ${queue.limit} records waited for a FINISHED_ROUND; the older half went out early`);
    if (out.length > 0) yield out;
    out = [];
    warn.summarise();
    if (failure) throw failure;
  }

  /** New formats or names from header records met late in the stream; `undefined` keeps what is known. */
  private describe(tracing: TracingData | null | undefined, desc: readonly EventDesc[] | null | undefined): void {
    if (tracing !== undefined) this.tracing = tracing;
    this.streams.describe(this.tracing, desc === undefined ? this.h.meta.eventDesc : desc);
  }

  /** The stream whose trailer a non-SAMPLE record carries; undefined when records carry none, null when its id is unknown. */
  private trailerStream(v: DataView, p: number, size: number, single: Stream | undefined): Stream | undefined | null {
    const streams = this.streams;
    if (!streams.sampleIdAll) return undefined;
    if (single) return single;
    const back = streams.trailerIdPos;
    if (back < 0) return streams.list[0];
    if (back > size - 8) return null;
    return streams.byIdAt(v, p + size - back) ?? null;
  }
}
