import type { BufferInfo, ClockUnit, EventFields, TraceClock, TraceEvent, TraceInfo, TraceReader } from "../../model/event.js";
import type { ReaderOptions } from "../../model/format-reader.js";
import { MinHeap } from "../../model/min-heap.js";
import { commonPidOffset, createFieldsDecoder, type FieldsDecoder } from "../../ftrace/field-decoder.js";
import { CpuStream } from "./cpu-stream.js";
import type { FileSource } from "./file-source.js";
import type { TraceDatLayout } from "./metadata.js";

/** The kinds-table slot of records shorter than their 2-byte type word. */
const SHORT_RECORD = 0x10000;
/** Warnings kept per reader; beyond this they are counted, not stored (bounded memory). */
const MAX_WARNINGS = 1000;
/** Memory for page blocks of uncompressed data, shared by all CPU streams. */
const PAGE_BLOCK_BUDGET = 8 << 20;

const TICK_CLOCKS = new Set(["x86-tsc", "counter", "uptime"]);
const NS_CLOCKS = new Set(["local", "global", "mono", "mono_raw", "boot", "perf", "tai"]);

/** Whether an ftrace trace_clock counts ticks or nanoseconds (`uptime` counts jiffies). */
export function ftraceClockUnit(name: string | null): ClockUnit {
  if (name === null) return "unknown";
  if (TICK_CLOCKS.has(name)) return "ticks";
  if (NS_CLOCKS.has(name)) return "ns";
  return "unknown";
}

interface EventKind {
  readonly name: string;
  readonly decode: FieldsDecoder | null;
  /** Offset of common_pid in the record, or -1. */
  readonly pidAt: number;
}

/** An opened trace.dat: header facts in `info`, events merged across CPUs and buffers in `batches()`. */
export class TraceDatReader implements TraceReader {
  readonly info: TraceInfo;
  private readonly warningList: string[];
  private suppressed = 0;
  private iterated = false;
  private closed = false;
  /** By event ID (u16): looked up per event, so an array rather than a map. */
  private readonly kinds: (EventKind | undefined)[] = [];
  private lastTid = -2;
  private lastComm: string | null = null;
  private readonly batchSize: number;

  constructor(
    private readonly src: FileSource,
    private readonly layout: TraceDatLayout,
    options: ReaderOptions,
  ) {
    this.warningList = [];
    for (const w of layout.warnings) this.warn(w);
    this.batchSize = options.batchSize && options.batchSize > 0 ? Math.floor(options.batchSize) : 4096;
    const clockOf = (name: string | null, source: string): TraceClock => ({ name, unit: ftraceClockUnit(name), source: name === null ? "default" : source });
    const buffers: BufferInfo[] = layout.buffers.map((b) => ({
      name: b.name,
      clock: clockOf(b.clock, b.clockSource),
      cpus: b.cpus.filter((c) => c.size > 0).map((c) => c.cpu),
    }));
    const top = layout.buffers.find((b) => b.name === "");
    for (const b of layout.buffers) if (b.latency) this.warn(`${src.path}: buffer ${JSON.stringify(b.name)} holds latency-tracer text, not binary events; it is not read`);
    this.info = {
      format: "trace-cmd",
      version: String(layout.version),
      compression: layout.compression,
      clock: top ? clockOf(top.clock, top.clockSource) : clockOf(layout.traceClock, "TRACECLOCK option"),
      buffers,
      cpuCount: layout.cpuCount,
      timeRecords: layout.timeRecords,
      warnings: [...this.warningList],
    };
  }

  get warnings(): readonly string[] {
    return this.warningList;
  }

  private warn(message: string): void {
    if (this.warningList.length < MAX_WARNINGS) this.warningList.push(message);
    else this.suppressed++;
  }

  private kindOf(id: number): EventKind {
    const known = this.kinds[id];
    if (known) return known;
    if (id === SHORT_RECORD) {
      const short: EventKind = { name: "unknown:short-record", decode: null, pidAt: -1 };
      this.warn(`${this.src.path}: records shorter than their 2-byte event type are named ${short.name}`);
      this.kinds[id] = short;
      return short;
    }
    const f = this.layout.formats.lookup(id);
    let k: EventKind;
    if (f !== undefined && typeof f !== "string") k = { name: `${f.system}:${f.name}`, decode: createFieldsDecoder(f, this.layout.littleEndian), pidAt: commonPidOffset(f) };
    else {
      k = { name: `unknown:${id}`, decode: null, pidAt: 4 };
      if (typeof f === "string") this.warn(`${f}; events of type ${id} are named ${k.name} with no fields`);
      this.warn(`${this.src.path}: event type ${id} has no format in the file${typeof f === "string" ? " that parses" : ""}; its events are named ${k.name} with no fields`);
    }
    this.kinds[id] = k;
    return k;
  }

  private streams(): CpuStream[] {
    const l = this.layout;
    const specs = l.buffers.flatMap((b, bufferIndex) => (b.latency ? [] : b.cpus.filter((c) => c.size > 0).map((c) => ({ b, bufferIndex, c }))));
    const out: CpuStream[] = [];
    for (const { b, bufferIndex, c } of specs) {
      const pagesPerBlock = Math.max(1, Math.min(64, Math.floor(PAGE_BLOCK_BUDGET / Math.max(1, specs.length) / b.pageSize)));
      out.push(
        new CpuStream(
          {
            src: this.src,
            bufferIndex,
            cpu: c.cpu,
            offset: c.offset,
            size: c.size,
            pageSize: b.pageSize,
            header: l.headerPage,
            littleEndian: l.littleEndian,
            decompress: b.compressed ? l.decompress : null,
            compression: l.compression,
            pagesPerBlock,
            label: `${b.name === "" ? "" : `buffer ${b.name} `}CPU ${c.cpu}`,
          },
          (m) => this.warn(m),
        ),
      );
    }
    return out;
  }

  private eventOf(s: CpuStream, bufferName: string): TraceEvent {
    const ts = typeof s.ts === "number" ? BigInt(s.ts) : s.ts;
    if (s.lost) {
      const count = s.lostCount;
      this.warn(
        `${this.src.path}: ${bufferName === "" ? "" : `buffer ${bufferName} `}CPU ${s.cpu}: ${count === null ? "an unknown number of" : String(count)} events lost before timestamp ${ts}`,
      );
      return { ts, cpu: s.cpu, pid: -1, tid: -1, comm: null, name: "lost", fields: { count }, buffer: bufferName };
    }
    const len = s.recLength;
    const view = s.view;
    const start = s.recStart;
    const le = this.layout.littleEndian;
    // A record too short to hold its type word gets a kind of its own (index 65536, past every u16 ID).
    const id = len >= 2 ? view.getUint16(start, le) : SHORT_RECORD;
    const k = this.kinds[id] ?? this.kindOf(id);
    const tid = k.pidAt >= 0 && k.pidAt + 4 <= len ? view.getInt32(start + k.pidAt, le) : -1;
    const fields: EventFields = k.decode ? k.decode(view, s.buf, start, len) : {};
    let comm: string | null;
    if (tid === this.lastTid) comm = this.lastComm;
    else {
      comm = tid === 0 ? "<idle>" : (this.layout.cmdlines.get(tid) ?? null);
      this.lastTid = tid;
      this.lastComm = comm;
    }
    return { ts, cpu: s.cpu, pid: -1, tid, comm, name: k.name, fields, buffer: bufferName };
  }

  async *batches(): AsyncGenerator<readonly TraceEvent[]> {
    if (this.iterated) throw new Error("batches() can be iterated once");
    this.iterated = true;
    const names = this.layout.buffers.map((b) => b.name);
    // Ties on the timestamp go to the earlier buffer, then the lower CPU, as trace-cmd report orders them.
    const heap = new MinHeap<CpuStream>((a, b) => (a.ts < b.ts ? true : b.ts < a.ts ? false : a.bufferIndex !== b.bufferIndex ? a.bufferIndex < b.bufferIndex : a.cpu < b.cpu));
    for (const s of this.streams()) if (s.advance()) heap.push(s);
    let batch: TraceEvent[] = [];
    try {
      while (heap.size > 0) {
        if (this.closed) return;
        const s = heap.peek() as CpuStream;
        batch.push(this.eventOf(s, names[s.bufferIndex] as string));
        if (s.advance()) heap.replaceTop(s);
        else heap.pop();
        if (batch.length >= this.batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) {
        const last = batch;
        batch = [];
        yield last;
      }
    } catch (e) {
      // Hand out the events decoded before the damage, then report it.
      if (batch.length > 0) {
        const last = batch;
        batch = [];
        yield last;
      }
      throw e;
    } finally {
      if (this.suppressed > 0) {
        this.warningList.push(`${this.src.path}: ${this.suppressed} further warnings were counted but not kept`);
        this.suppressed = 0;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.src.close();
  }
}
