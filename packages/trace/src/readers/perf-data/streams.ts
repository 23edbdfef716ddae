/**
 * The event streams of a file (one per attr) with everything needed to turn
 * their records into events: the name, the record layouts, the tracepoint
 * payload decoder, and the id → stream lookup that tells which attr a record
 * belongs to.
 */
import { createFieldsDecoder, type EventFormat, type FieldsDecoder, type TracingData } from "../../ftrace/index.js";
import { idPositions, sampleLayout, trailerLayout, type PerfAttr, type SampleLayout, type TrailerLayout } from "./attr.js";
import { AttrType, HARDWARE_NAMES, SOFTWARE_NAMES } from "./constants.js";
import type { EventDesc } from "./features.js";

/** One attr, ready for decoding. */
export interface Stream {
  readonly index: number;
  readonly attr: PerfAttr;
  name: string;
  readonly sample: SampleLayout;
  readonly trailer: TrailerLayout;
  /** The ids of this attr's event streams (one per CPU or thread). */
  readonly ids: bigint[];
  /** Decodes a PERF_SAMPLE_RAW tracepoint payload; null for other events or when the format is unknown. */
  decodeRaw: FieldsDecoder | null;
}

/** Names an attr the way perf does when the file has no EVENT_DESC. */
function fallbackName(attr: PerfAttr, format: EventFormat | undefined): string {
  if (attr.type === AttrType.TRACEPOINT) return format ? `${format.system}:${format.name}` : `tracepoint:${attr.config}`;
  const c = attr.config;
  if (attr.type === AttrType.HARDWARE && c < BigInt(HARDWARE_NAMES.length)) return HARDWARE_NAMES[Number(c)] as string;
  if (attr.type === AttrType.SOFTWARE && c < BigInt(SOFTWARE_NAMES.length)) return SOFTWARE_NAMES[Number(c)] as string;
  if (attr.type === AttrType.RAW) return `r${c.toString(16)}`;
  return `${attr.type}:0x${c.toString(16)}`;
}

/** Index of the id → stream map: exact for ids below 2^53 (every id perf hands out), else keyed by text. */
type IdKey = number | string;

export class Streams {
  readonly list: Stream[] = [];
  private readonly byId = new Map<IdKey, Stream>();
  /** Where the id sits: bytes from a SAMPLE's start, bytes back from another record's end; -1 when absent. */
  sampleIdPos = -1;
  trailerIdPos = -1;
  /** Whether records other than SAMPLE carry the sample_id_all trailer (the first attr decides, as in perf). */
  sampleIdAll = false;
  /** Attrs that disagree with the first on where the id is (perf refuses such files; we warn). */
  inconsistent = false;
  private tracing: TracingData | null = null;
  private descByIndex: readonly EventDesc[] = [];
  private readonly descById = new Map<IdKey, EventDesc>();

  constructor(private readonly le: boolean) {}

  /** Adds an attr and its stream ids. */
  add(attr: PerfAttr, ids: readonly bigint[]): Stream {
    const s: Stream = {
      index: this.list.length,
      attr,
      name: "",
      sample: sampleLayout(attr.sampleType, attr.readFormat),
      trailer: trailerLayout(attr.sampleType, attr.sampleIdAll),
      ids: [...ids],
      decodeRaw: null,
    };
    const pos = idPositions(attr.sampleType, attr.sampleIdAll);
    if (this.list.length === 0) {
      this.sampleIdPos = pos.sample;
      this.trailerIdPos = pos.trailer;
      this.sampleIdAll = attr.sampleIdAll;
    } else if (pos.sample !== this.sampleIdPos || pos.trailer !== this.trailerIdPos || attr.sampleIdAll !== this.sampleIdAll) {
      this.inconsistent = true;
    }
    this.list.push(s);
    for (const id of ids) this.byId.set(keyOf(id), s);
    this.resolve(s);
    return s;
  }

  /** Adds ids to a stream (pipe mode may announce them late). */
  addIds(s: Stream, ids: readonly bigint[]): void {
    for (const id of ids) {
      this.byId.set(keyOf(id), s);
      s.ids.push(id);
    }
  }

  /** Event formats and names from the header; (re)names every stream. */
  describe(tracing: TracingData | null, desc: readonly EventDesc[] | null): void {
    this.tracing = tracing;
    this.descByIndex = desc ?? [];
    this.descById.clear();
    for (const d of this.descByIndex) for (const id of d.ids) this.descById.set(keyOf(id), d);
    for (const s of this.list) this.resolve(s);
  }

  /** An EVENT_UPDATE NAME record (pipe mode names events this way). */
  rename(id: bigint, name: string): void {
    const s = this.byId.get(keyOf(id));
    if (s) s.name = name;
  }

  private resolve(s: Stream): void {
    const attr = s.attr;
    const format = attr.type === AttrType.TRACEPOINT && attr.config <= 0xffffffffn ? this.tracing?.formats.get(Number(attr.config)) : undefined;
    const desc = this.descFor(s);
    if (format) s.name = `${format.system}:${format.name}`;
    else if (desc && desc.name !== "") s.name = desc.name;
    else if (s.name === "") s.name = fallbackName(attr, format);
    if (format && (attr.sampleType & 1024) !== 0) {
      s.decodeRaw = createFieldsDecoder(format, this.tracing?.littleEndian ?? this.le);
    } else {
      s.decodeRaw = null;
    }
  }

  private descFor(s: Stream): EventDesc | undefined {
    // EVENT_DESC names its attrs' ids; without a match its order is the attrs section's.
    for (const id of s.ids) {
      const d = this.descById.get(keyOf(id));
      if (d) return d;
    }
    return this.descByIndex[s.index];
  }

  /** The stream of a record whose id is the u64 at `off`; undefined when unknown. */
  byIdAt(view: DataView, off: number): Stream | undefined {
    const lo = view.getUint32(this.le ? off : off + 4, this.le);
    const hi = view.getUint32(this.le ? off + 4 : off, this.le);
    // perf's synthesized records (threads and maps that existed before the recording) carry id 0: the first attr's.
    if (lo === 0 && hi === 0) return this.list[0];
    return this.byId.get(hi < 0x200000 ? hi * 4294967296 + lo : view.getBigUint64(off, this.le).toString());
  }

  /** The id at `off` as a bigint (for messages). */
  idAt(view: DataView, off: number): bigint {
    return view.getBigUint64(off, this.le);
  }
}

function keyOf(id: bigint): IdKey {
  return id < 2n ** 53n ? Number(id) : id.toString();
}
