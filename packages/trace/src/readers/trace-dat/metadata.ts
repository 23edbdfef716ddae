import type { GuestRecord, TimeRecords, TimeShiftRecord, TscConversion } from "../../model/event.js";
import { BufferCursor, type ByteCursor, invalidTrace, safeNumber } from "../../ftrace/byte-cursor.js";
import type { PageHeaderLayout } from "../../ftrace/event-format.js";
import {
  FormatTable,
  hasTracingMagic,
  readCmdlines,
  readEventFormats,
  readFtraceFormats,
  readHeaderInfo,
  readPrintk,
  readTracingHeader,
  skipKallsyms,
} from "../../ftrace/tracing-data.js";
import { type Decompressor, decompressorFor } from "./decompress.js";
import { FileCursor, type FileSource } from "./file-source.js";
import {
  type BufferOption,
  type CpuData,
  IGNORED_OPTIONS,
  OPTION,
  parseBufferOption,
  parseCpuStat,
  parseGuest,
  parseTimeShift,
  parseTsc2Nsec,
  selectedClock,
} from "./options.js";

/** One buffer (the top one is named "") and where its per-CPU pages are. */
export interface BufferLayout {
  readonly name: string;
  /** The clock name, or null when the file does not say. */
  readonly clock: string | null;
  readonly clockSource: string;
  readonly pageSize: number;
  readonly cpus: readonly CpuData[];
  /** v7: per-CPU data are compressed in chunks. */
  readonly compressed: boolean;
  /** A latency (text) buffer: no binary events. */
  readonly latency: boolean;
}

/** Everything `open` learns from a trace.dat before reading events. */
export interface TraceDatLayout {
  readonly version: 6 | 7;
  readonly littleEndian: boolean;
  readonly pageSize: number;
  /** v7 compression name (`none`, `zlib`, `zstd`); null for v6. */
  readonly compression: string | null;
  readonly decompress: Decompressor | null;
  readonly headerPage: PageHeaderLayout;
  readonly longSize: number;
  /** Event formats, parsed when first used. */
  readonly formats: FormatTable;
  readonly cmdlines: ReadonlyMap<number, string>;
  readonly buffers: readonly BufferLayout[];
  readonly cpuCount: number | null;
  /** The TRACECLOCK option's clock (the top-level buffer's when the file has no BUFFER option for it). */
  readonly traceClock: string | null;
  readonly timeRecords: TimeRecords;
  readonly warnings: string[];
}

/** Limits on what a damaged file may make us hold or walk. */
const LIMITS = {
  section: 64 << 20,
  optionsSections: 1024,
  optionSize: 64 << 20,
  cpus: 1 << 16,
  clockText: 4096,
};

const V7_SECTION_HEADER = 16; // u16 id, u16 flags, u32 string id, u64 size
const SECTION_COMPRESSED = 1;

interface OptionsState {
  traceClock: string | null;
  /** A TRACECLOCK option was present (v6 then keeps clock text after the CPU offsets, even when the option is empty). */
  traceClockSeen: boolean;
  cpuCount: number | null;
  traceId?: bigint;
  timeShift?: TimeShiftRecord;
  guests: GuestRecord[];
  tsc2nsec?: TscConversion;
  buffers: BufferOption[];
  sections: Map<number, number>;
  lossNotes: string[];
}

function newOptionsState(): OptionsState {
  return { traceClock: null, traceClockSeen: false, cpuCount: null, guests: [], buffers: [], sections: new Map(), lossNotes: [] };
}

/**
 * Handles one option's payload. Malformed payloads of known options and
 * unknown options are warnings: trace-cmd skips what it does not know, and
 * a bad time record must not hide the events.
 */
function handleOption(id: number, payload: Uint8Array, at: number, le: boolean, v7: boolean, path: string, st: OptionsState, warnings: string[]): void {
  const where = path;
  const warn = (what: string): void => {
    warnings.push(`${path}: offset 0x${at.toString(16)}: ${what}`);
  };
  try {
    switch (id) {
      case OPTION.TRACECLOCK:
        st.traceClock = selectedClock(new TextDecoder("latin1").decode(payload));
        st.traceClockSeen = true;
        break;
      case OPTION.CPUCOUNT:
        if (payload.length >= 4) st.cpuCount = new BufferCursor(payload, le, where, at).u32();
        else warn(`CPUCOUNT option of ${payload.length} bytes ignored`);
        break;
      case OPTION.TRACEID:
        if (payload.length >= 8) st.traceId = new BufferCursor(payload, le, where, at).u64();
        else warn(`TRACEID option of ${payload.length} bytes ignored`);
        break;
      case OPTION.TIME_SHIFT:
        st.timeShift = parseTimeShift(payload, le, where, at);
        break;
      case OPTION.GUEST:
        st.guests.push(parseGuest(payload, le, where, at));
        break;
      case OPTION.TSC2NSEC:
        st.tsc2nsec = parseTsc2Nsec(payload, le, where, at);
        break;
      case OPTION.BUFFER:
      case OPTION.BUFFER_TEXT:
        st.buffers.push(parseBufferOption(payload, le, where, at, v7, id === OPTION.BUFFER_TEXT));
        break;
      case OPTION.CPUSTAT: {
        const s = parseCpuStat(new TextDecoder("latin1").decode(payload));
        const lost = [s.overrun > 0 ? `overrun ${s.overrun}` : "", s.commitOverrun > 0 ? `commit overrun ${s.commitOverrun}` : "", s.dropped > 0 ? `dropped events ${s.dropped}` : ""].filter((x) => x);
        if (lost.length > 0) st.lossNotes.push(`${path}: offset 0x${at.toString(16)}: CPUSTAT for CPU ${s.cpu ?? "?"} reports ${lost.join(", ")} (events the kernel lost while recording)`);
        break;
      }
      case OPTION.HEADER_INFO:
      case OPTION.FTRACE_EVENTS:
      case OPTION.EVENT_FORMATS:
      case OPTION.KALLSYMS:
      case OPTION.PRINTK:
      case OPTION.CMDLINES:
        if (payload.length < 8) warn(`section option ${id} of ${payload.length} bytes ignored`);
        else st.sections.set(id, safeNumber(new BufferCursor(payload, le, where, at).u64(), path, at, "section offset"));
        break;
      default:
        if (!IGNORED_OPTIONS.has(id)) warn(`unknown option ${id} (${payload.length} bytes) skipped`);
    }
  } catch (e) {
    warn(`option ${id} (${payload.length} bytes) is malformed and was skipped: ${(e as Error).message}`);
  }
}

/** v6 options: `{u16 id, u32 size, data}` until an id of 0 (which has no size). */
function readOptionsV6(c: ByteCursor, le: boolean, path: string, st: OptionsState, warnings: string[]): void {
  for (;;) {
    const at = c.position;
    const id = c.u16();
    if (id === OPTION.DONE) return;
    const size = c.u32();
    if (size > LIMITS.optionSize) throw invalidTrace(path, at, `option ${id} declares ${size} bytes`);
    const payload = c.bytes(size);
    handleOption(id, payload, at, le, false, path, st, warnings);
  }
}

/** Reads a v7 section's body (decompressed when flagged), checking its id. */
function readSection(src: FileSource, offset: number, expectId: number | null, le: boolean, decompress: Decompressor | null, compression: string | null): { id: number; flags: number; body: Uint8Array; bodyOffset: number } {
  const path = src.path;
  const h = new BufferCursor(src.read(offset, V7_SECTION_HEADER, "a section header"), le, path, offset);
  const id = h.u16();
  const flags = h.u16();
  h.u32();
  const size = safeNumber(h.u64(), path, offset + 8, "section size");
  if (expectId !== null && id !== expectId) throw invalidTrace(path, offset, `section id ${id} where the options point to section ${expectId}`);
  const dataAt = offset + V7_SECTION_HEADER;
  if (flags & SECTION_COMPRESSED) {
    if (!decompress) throw invalidTrace(path, offset, `compressed section, but the file's compression ${JSON.stringify(compression)} is unknown`);
    const ch = new BufferCursor(src.read(dataAt, 8, "a compression header"), le, path, dataAt);
    const csize = ch.u32();
    const usize = ch.u32();
    if (usize > LIMITS.section) throw invalidTrace(path, dataAt, `section decompresses to ${usize} bytes, over the ${LIMITS.section}-byte limit`);
    const data = src.read(dataAt + 8, csize, "compressed section data");
    try {
      return { id, flags, body: decompress(data, usize), bodyOffset: dataAt };
    } catch (e) {
      throw invalidTrace(path, dataAt, `section ${id} does not decompress (${compression}): ${(e as Error).message}`);
    }
  }
  if (size > LIMITS.section) throw invalidTrace(path, offset, `section of ${size} bytes is over the ${LIMITS.section}-byte limit`);
  return { id, flags, body: src.read(dataAt, size, `section ${id}`), bodyOffset: dataAt };
}

/** Reads the v7 options sections, following DONE links. */
function readOptionsV7(src: FileSource, first: number, le: boolean, decompress: Decompressor | null, compression: string | null, st: OptionsState, warnings: string[]): void {
  const seen = new Set<number>();
  let next = first;
  while (next !== 0) {
    if (seen.has(next)) {
      warnings.push(`${src.path}: offset 0x${next.toString(16)}: options sections link back to themselves; stopped following`);
      return;
    }
    if (seen.size >= LIMITS.optionsSections) throw invalidTrace(src.path, next, `more than ${LIMITS.optionsSections} options sections`);
    seen.add(next);
    const sec = readSection(src, next, 0, le, decompress, compression);
    const c = new BufferCursor(sec.body, le, src.path, sec.bodyOffset);
    let linked = 0;
    let done = false;
    while (c.remaining > 0) {
      const at = c.position;
      const id = c.u16();
      const size = c.u32();
      if (size > c.remaining) throw invalidTrace(src.path, at, `option ${id} declares ${size} bytes, ${c.remaining} remain in its section`);
      const payload = c.bytes(size);
      if (id === OPTION.DONE) {
        linked = size >= 8 ? safeNumber(new BufferCursor(payload, le, src.path, at).u64(), src.path, at, "next options offset") : 0;
        done = true;
        break;
      }
      handleOption(id, payload, at, le, true, src.path, st, warnings);
    }
    if (!done) warnings.push(`${src.path}: offset 0x${next.toString(16)}: options section ends without a DONE option`);
    next = linked;
  }
}

function cpusFromOffsets(c: ByteCursor, cpus: number, path: string): CpuData[] {
  const out: CpuData[] = [];
  for (let i = 0; i < cpus; i++) {
    const at = c.position;
    const offset = safeNumber(c.u64(), path, at, `CPU ${i} data offset`);
    const size = safeNumber(c.u64(), path, at + 8, `CPU ${i} data size`);
    out.push({ cpu: i, offset, size });
  }
  return out;
}

/** v6 after the options: the 10-byte tag, then per-CPU offsets and (with TRACECLOCK) the clock text. */
function readV6Data(c: ByteCursor, cpus: number, le: boolean, path: string, st: OptionsState, warnings: string[], name: string, topClock: boolean): { cpus: CpuData[]; latency: boolean; clock: string | null } {
  for (let guard = 0; guard < 64; guard++) {
    const at = c.position;
    const tag = new TextDecoder("latin1").decode(c.bytes(10));
    if (tag.startsWith("options")) {
      readOptionsV6(c, le, path, st, warnings);
      continue;
    }
    if (tag.startsWith("latency")) return { cpus: [], latency: true, clock: null };
    if (!tag.startsWith("flyrecord")) throw invalidTrace(path, at, `expected "options", "latency" or "flyrecord", found ${JSON.stringify(tag.replace(/\0/g, ""))}`);
    const data = cpusFromOffsets(c, cpus, path);
    let clock: string | null = null;
    if (st.traceClockSeen || topClock) {
      // trace-cmd writes the buffer's trace_clock text after the offsets when it wrote a TRACECLOCK option.
      const cat = c.position;
      try {
        const n = safeNumber(c.u64(), path, cat, "clock text size");
        if (n > LIMITS.clockText) throw invalidTrace(path, cat, `clock text of ${n} bytes`);
        clock = selectedClock(new TextDecoder("latin1").decode(c.bytes(n)));
      } catch (e) {
        warnings.push(`${path}: offset 0x${cat.toString(16)}: buffer ${JSON.stringify(name)}: no readable clock after the CPU offsets (${(e as Error).message})`);
      }
    }
    return { cpus: data, latency: false, clock };
  }
  throw invalidTrace(path, c.position, "too many options blocks");
}

function clampCpus(cpus: readonly CpuData[], src: FileSource, bufferName: string, warnings: string[]): CpuData[] {
  const out: CpuData[] = [];
  for (const d of cpus) {
    if (d.cpu >= LIMITS.cpus) {
      warnings.push(`${src.path}: offset 0x${d.offset.toString(16)}: buffer ${JSON.stringify(bufferName)}: CPU ${d.cpu} is out of range; its data were skipped`);
      continue;
    }
    if (d.size > 0 && d.offset + d.size > src.size) {
      const keep = Math.max(0, src.size - d.offset);
      warnings.push(`${src.path}: offset 0x${d.offset.toString(16)}: buffer ${JSON.stringify(bufferName)} CPU ${d.cpu}: its ${d.size} bytes pass the end of the file (truncated); reading the ${keep} bytes present`);
      out.push({ cpu: d.cpu, offset: d.offset, size: keep });
    } else out.push(d);
  }
  return out;
}

function timeRecordsOf(st: OptionsState): TimeRecords {
  const r: { -readonly [K in keyof TimeRecords]: TimeRecords[K] } = {};
  if (st.traceId !== undefined) r.traceId = st.traceId;
  if (st.timeShift) r.timeShift = st.timeShift;
  if (st.guests.length > 0) r.guests = st.guests;
  if (st.tsc2nsec) r.tsc2nsec = st.tsc2nsec;
  return r;
}

/**
 * Reads a trace.dat's header, metadata and options: everything but the events.
 * @throws ClocksourceError `INVALID_TRACE` naming the offset of damage in the structure
 */
export function readTraceDatLayout(src: FileSource): TraceDatLayout {
  const path = src.path;
  const head = src.read(0, Math.min(src.size, 512), "the file header");
  if (!hasTracingMagic(head)) throw invalidTrace(path, 0, "not a trace.dat file (no \\x17\\x08\\x44tracing magic)");
  const h = readTracingHeader(head, path);
  const le = h.littleEndian;
  if (h.version !== "6" && h.version !== "7") {
    throw invalidTrace(path, 10, `trace.dat version ${JSON.stringify(h.version)} is not supported (versions 6 and 7 are)`);
  }
  if (h.pageSize < 64 || h.pageSize > 1 << 24 || (h.pageSize & (h.pageSize - 1)) !== 0) throw invalidTrace(path, h.end - 4, `page size ${h.pageSize} is not a plausible power of two`);
  const warnings: string[] = [];
  const st = newOptionsState();
  const userLong = h.longSize === 4 ? 4 : 8;

  if (h.version === "6") {
    const c = new FileCursor(src, le, h.end);
    const info = readHeaderInfo(c, path, userLong);
    warnings.push(...info.warnings);
    const longSize = info.headerPage.commitSize;
    const formats = new FormatTable(longSize, path, warnings);
    readFtraceFormats(c, path, formats.sink);
    readEventFormats(c, path, formats.sink);
    skipKallsyms(c);
    readPrintk(c, path);
    const cmdlines = readCmdlines(c, path);
    const cpusAt = c.position;
    const cpus = c.u32();
    if (cpus > LIMITS.cpus) throw invalidTrace(path, cpusAt, `${cpus} CPUs is implausible`);
    const top = readV6Data(c, cpus, le, path, st, warnings, "", false);
    const buffers: BufferLayout[] = [
      {
        name: "",
        clock: top.clock ?? st.traceClock,
        clockSource: top.clock !== null ? "trace_clock after the CPU offsets" : st.traceClock !== null ? "TRACECLOCK option" : "default",
        pageSize: h.pageSize,
        cpus: clampCpus(top.cpus, src, "", warnings),
        compressed: false,
        latency: top.latency,
      },
    ];
    for (const b of st.buffers) {
      try {
        if (b.offset <= 0 || b.offset >= src.size) throw invalidTrace(path, b.offset, "buffer offset outside the file");
        const bc = new FileCursor(src, le, b.offset);
        const d = readV6Data(bc, cpus, le, path, newOptionsState(), warnings, b.name, st.traceClockSeen);
        buffers.push({
          name: b.name,
          clock: d.clock ?? st.traceClock,
          clockSource: d.clock !== null ? "trace_clock after the buffer's CPU offsets" : "TRACECLOCK option",
          pageSize: h.pageSize,
          cpus: clampCpus(d.cpus, src, b.name, warnings),
          compressed: false,
          latency: d.latency,
        });
      } catch (e) {
        warnings.push(`${(e as Error).message} (buffer ${JSON.stringify(b.name)} skipped)`);
      }
    }
    warnings.push(...st.lossNotes);
    return {
      version: 6,
      littleEndian: le,
      pageSize: h.pageSize,
      compression: null,
      decompress: null,
      headerPage: info.headerPage,
      longSize,
      formats,
      cmdlines,
      buffers,
      cpuCount: st.cpuCount ?? cpus,
      traceClock: st.traceClock,
      timeRecords: timeRecordsOf(st),
      warnings,
    };
  }

  // Version 7: compression header, then options sections that point at everything else.
  const hc = new BufferCursor(head, le, path, 0, h.end);
  const compression = hc.cstring(64);
  hc.cstring(64); // compression library version
  const optionsAt = safeNumber(hc.u64(), path, hc.position - 8, "options offset");
  const decompress = decompressorFor(compression);
  if (!decompress) warnings.push(`${path}: offset 0x${h.end.toString(16)}: compression ${JSON.stringify(compression)} is not supported (none, zlib and zstd are); compressed parts cannot be read`);
  readOptionsV7(src, optionsAt, le, decompress, compression, st, warnings);

  const headerAt = st.sections.get(OPTION.HEADER_INFO);
  if (headerAt === undefined) throw invalidTrace(path, optionsAt, "no HEADER_INFO option: the page header layout is unknown");
  const sec = (id: number): BufferCursor | null => {
    const at = st.sections.get(id);
    if (at === undefined) return null;
    const s = readSection(src, at, id, le, decompress, compression);
    return new BufferCursor(s.body, le, path, s.bodyOffset);
  };
  const info = readHeaderInfo(sec(OPTION.HEADER_INFO) as BufferCursor, path, userLong);
  warnings.push(...info.warnings);
  const longSize = info.headerPage.commitSize;
  const formats = new FormatTable(longSize, path, warnings);
  const ft = sec(OPTION.FTRACE_EVENTS);
  if (ft) readFtraceFormats(ft, path, formats.sink);
  const ev = sec(OPTION.EVENT_FORMATS);
  if (ev) readEventFormats(ev, path, formats.sink);
  const cl = sec(OPTION.CMDLINES);
  const cmdlines = cl ? readCmdlines(cl, path) : new Map<number, string>();

  const buffers: BufferLayout[] = [];
  for (const b of st.buffers) {
    try {
      let compressed = false;
      if (!b.latency) {
        const hdr = new BufferCursor(src.read(b.offset, V7_SECTION_HEADER, "a buffer section header"), le, path, b.offset);
        hdr.u16();
        compressed = (hdr.u16() & SECTION_COMPRESSED) !== 0;
        if (compressed && !decompress) throw invalidTrace(path, b.offset, `buffer data compressed with unsupported ${JSON.stringify(compression)}`);
      }
      buffers.push({
        name: b.name,
        clock: b.clock !== null && b.clock !== "" ? selectedClock(b.clock) : st.traceClock,
        clockSource: b.clock ? "BUFFER option" : "TRACECLOCK option",
        pageSize: b.pageSize ?? h.pageSize,
        cpus: clampCpus(b.cpus ?? [], src, b.name, warnings),
        compressed,
        latency: b.latency,
      });
    } catch (e) {
      warnings.push(`${(e as Error).message} (buffer ${JSON.stringify(b.name)} skipped)`);
    }
  }
  warnings.push(...st.lossNotes);
  return {
    version: 7,
    littleEndian: le,
    pageSize: h.pageSize,
    compression,
    decompress,
    headerPage: info.headerPage,
    longSize,
    formats,
    cmdlines,
    buffers,
    cpuCount: st.cpuCount,
    traceClock: st.traceClock,
    timeRecords: timeRecordsOf(st),
    warnings,
  };
}
