/**
 * Perfetto's protobuf trace format for the merged timeline.
 *
 * Field numbers are Perfetto's published schema (protos/perfetto/trace/
 * trace_packet.proto, track_event/*.proto, interned_data/interned_data.proto):
 *   Trace.packet = 1;
 *   TracePacket: timestamp = 8, trusted_packet_sequence_id = 10, track_event = 11,
 *     interned_data = 12, sequence_flags = 13 (INCREMENTAL_STATE_CLEARED 1,
 *     NEEDS_INCREMENTAL_STATE 2), track_descriptor = 60, machine_id = 98;
 *   TrackDescriptor: uuid = 1, name = 2, process = 3, thread = 4, parent_uuid = 5;
 *   ProcessDescriptor: pid = 1, process_name = 6; ThreadDescriptor: pid = 1, tid = 2, thread_name = 5;
 *   TrackEvent: category_iids = 3, debug_annotations = 4, type = 9 (SLICE_BEGIN 1,
 *     SLICE_END 2, INSTANT 3), name_iid = 10, track_uuid = 11;
 *   DebugAnnotation: name_iid = 1, bool_value = 2, uint_value = 3, int_value = 4,
 *     string_value = 6;
 *   InternedData: event_categories = 1, event_names = 2, debug_annotation_names = 3,
 *     each { iid = 1, name = 2 }.
 *
 * Layout: one machine per input (`machine_id` = input index; 0, the first, is
 * what Perfetto calls the host), one packet sequence per machine, whose first
 * packet clears its incremental state. Event names, the machine's category and
 * argument names are interned per sequence (sent once, then referred to by
 * number). Each event is an instant on its thread's track (process and thread
 * descriptors named as the trace names them, with the machine's name in
 * brackets), or on its CPU's track when the thread is unknown; a machine's CPU
 * tracks, under a track named after the machine, also carry one slice per
 * scheduled thread from `sched:sched_switch`. The arguments are the decoded
 * fields (`args.<name>`), the raw timestamp, the CPU and the mapping's
 * uncertainty, and the merge's flags when set.
 */
import type { FieldValue, TraceEvent } from "../model/event.js";
import { MERGE_FLAG_NAMES, type MergedEvent } from "../merge/merger.js";
import { hexBytes } from "./field-text.js";
import { ProtoBuffer, WIRE } from "./proto-buffer.js";
import type { ChunkSink, MergeHeader, MergeWriter } from "./writer.js";

const TYPE_SLICE_BEGIN = 1;
const TYPE_SLICE_END = 2;
const TYPE_INSTANT = 3;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;

/**
 * Track uuids: machine + 1 (from bit 45) | kind (3 bits from bit 42) | id (42 bits), never 0, and
 * below 2^53 for up to 255 machines, so a plain number holds one exactly.
 */
const KIND = { machine: 1, cpu: 2, process: 3, thread: 4 } as const;
const MAX_MACHINES = 255;
function uuid(machine: number, kind: number, id: number): number {
  return (machine + 1) * 2 ** 45 + kind * 2 ** 42 + (id >= 0 ? id % 2 ** 42 : 2 ** 42 + (id % 2 ** 42));
}

/** Arguments every instant carries. */
const CONSTANT_ARGS = ["cpu", "raw_ts", "uncertainty_ns"] as const;


/** Interned strings of one packet sequence. */
class Interned {
  readonly names = new Map<string, number>();
  readonly args = new Map<string, number>();
  /** iids of `args.<field>` by field name, so no name is built per event. */
  readonly fieldArgs = new Map<string, number>();
  readonly categories = new Map<string, number>();
  /** New entries to send with the next packet. */
  pending: { table: 1 | 2 | 3; iid: number; name: string }[] = [];
  /** Encoded constant parts of an instant's TrackEvent, by bound, then by CPU + 1 (CPU −1 at 0). */
  readonly prefixes = new Map<bigint | null, Uint8Array[]>();
  /** Track uuids of CPU tracks by CPU + 1, once described. */
  readonly cpuTracks: number[] = [];
  /** The bytes every event packet of the sequence carries after its timestamp. */
  packetTail: Uint8Array = new Uint8Array(0);

  fieldIid(field: string): number {
    let id = this.fieldArgs.get(field);
    if (id === undefined) {
      id = this.iid(3, `args.${field}`);
      this.fieldArgs.set(field, id);
    }
    return id;
  }

  iid(table: 1 | 2 | 3, s: string): number {
    const map = table === 1 ? this.categories : table === 2 ? this.names : this.args;
    let id = map.get(s);
    if (id === undefined) {
      id = map.size + 1;
      map.set(s, id);
      this.pending.push({ table, iid: id, name: s });
    }
    return id;
  }
}

/** Writes the merged timeline as a Perfetto trace (`.pftrace`). */
export class PerfettoWriter implements MergeWriter {
  private header!: MergeHeader;
  private out = new ProtoBuffer();
  private readonly known = new Set<number>();
  private readonly interned: Interned[] = [];
  /** Per machine and CPU: whether a scheduled thread's slice is open on the CPU track. */
  private readonly running = new Set<string>();
  /** The buffer was handed to the sink: start over before writing more. */
  private handedOut = false;

  constructor(private readonly sink: ChunkSink) {}

  begin(header: MergeHeader): void {
    if (header.machines.length > MAX_MACHINES) throw new RangeError(`Perfetto output holds at most ${MAX_MACHINES} machines`);
    this.header = header;
    for (const m of header.machines) {
      const it = new Interned();
      this.interned[m.index] = it;
      // Names every event uses, interned with the sequence's first packet.
      it.iid(1, m.name);
      for (const k of CONSTANT_ARGS) it.iid(3, k);
      const tail = new ProtoBuffer(32);
      tail.tag(10, WIRE.varint);
      tail.varint(m.index + 1);
      tail.tag(13, WIRE.varint);
      tail.varint(SEQ_NEEDS_INCREMENTAL_STATE);
      if (m.index > 0) {
        tail.tag(98, WIRE.varint);
        tail.varint(m.index);
      }
      it.packetTail = tail.take();
      const p = this.packetStart(m.index, null, SEQ_INCREMENTAL_STATE_CLEARED);
      this.internedData(m.index);
      const d = this.out.begin(60);
      this.num(1, uuid(m.index, KIND.machine, 0));
      this.out.string(2, m.name);
      this.out.end(d);
      this.out.end(p);
    }
    // Pushed as a copy: the caller need not write it before the first batch.
    this.sink.push(this.out.take());
  }

  /** A varint field from a number (exact below 2^53; negative ones as 64-bit two's complement). */
  private num(field: number, v: number): void {
    this.out.tag(field, WIRE.varint);
    if (v >= 0) this.out.varint(v);
    else this.out.varint64(BigInt(v));
  }

  private u64(field: number, v: bigint): void {
    this.out.tag(field, WIRE.varint);
    this.out.varint64(v);
  }

  /** Opens `Trace.packet` with what every packet of a machine's sequence carries. */
  private packetStart(machine: number, ts: bigint | null, flags: number): number {
    const p = this.out.begin(1);
    if (ts !== null) this.u64(8, ts);
    this.num(10, machine + 1);
    if (flags !== 0) this.num(13, flags);
    if (machine > 0) this.num(98, machine);
    return p;
  }

  /** Sends the sequence's new interned entries inside the current packet. */
  private internedData(machine: number): void {
    const it = this.interned[machine] as Interned;
    if (it.pending.length === 0) return;
    const d = this.out.begin(12);
    for (const e of it.pending) {
      const m = this.out.begin(e.table);
      this.num(1, e.iid);
      this.out.string(2, e.name);
      this.out.end(m);
    }
    this.out.end(d);
    it.pending = [];
  }

  private describe(machine: number, id: number, name: string | null, parent: number | null, process: { pid: number; name: string } | null, thread: { pid: number; tid: number; name: string } | null): void {
    this.known.add(id);
    const p = this.packetStart(machine, null, 0);
    const d = this.out.begin(60);
    this.num(1, id);
    if (parent !== null) this.num(5, parent);
    if (name !== null) this.out.string(2, name);
    if (process) {
      const s = this.out.begin(3);
      this.num(1, process.pid);
      this.out.string(6, process.name);
      this.out.end(s);
    }
    if (thread) {
      const s = this.out.begin(4);
      this.num(1, thread.pid);
      this.num(2, thread.tid);
      this.out.string(5, thread.name);
      this.out.end(s);
    }
    this.out.end(d);
    this.out.end(p);
  }

  private machineName(machine: number): string {
    return this.header.machines[machine]?.name ?? String(machine);
  }

  private cpuTrack(machine: number, cpu: number): number {
    const cached = (this.interned[machine] as Interned).cpuTracks[cpu + 1];
    if (cached !== undefined) return cached;
    const id = uuid(machine, KIND.cpu, cpu < 0 ? 0xffff : cpu);
    if (!this.known.has(id)) this.describe(machine, id, `${this.machineName(machine)} CPU ${cpu < 0 ? "?" : cpu}`, uuid(machine, KIND.machine, 0), null, null);
    (this.interned[machine] as Interned).cpuTracks[cpu + 1] = id;
    return id;
  }

  private threadTrack(machine: number, e: TraceEvent): number {
    const tid = e.tid;
    const pid = e.pid >= 0 ? e.pid : tid;
    const id = uuid(machine, KIND.thread, tid);
    if (this.known.has(id)) return id;
    const name = this.machineName(machine);
    const pidTrack = uuid(machine, KIND.process, pid);
    if (!this.known.has(pidTrack)) this.describe(machine, pidTrack, null, null, { pid, name: `${pid === tid && e.comm ? e.comm : `pid ${pid}`} [${name}]` }, null);
    this.describe(machine, id, null, null, null, { pid, tid, name: `${e.comm ?? `tid ${tid}`} [${name}]` });
    return id;
  }

  private annotation(machine: number, name: string, v: FieldValue | boolean): void {
    this.annotationIid((this.interned[machine] as Interned).iid(3, name), v);
  }

  private annotationIid(iid: number, v: FieldValue | boolean): void {
    const a = this.out.begin(4);
    this.num(1, iid);
    if (typeof v === "boolean") this.num(2, v ? 1 : 0);
    else if (typeof v === "number") {
      if (Number.isInteger(v)) {
        this.out.tag(4, WIRE.varint);
        if (v >= 0) this.out.varint(v);
        else this.out.varint64(BigInt(v));
      } else this.out.string(6, String(v));
    } else if (typeof v === "bigint") {
      if (v >= 0n) this.u64(3, v);
      else this.u64(4, v);
    } else if (typeof v === "string") this.out.string(6, v);
    else if (v === null) this.out.string(6, "(null)");
    else if (v instanceof Uint8Array) this.out.string(6, hexBytes(v));
    else this.out.string(6, `[${(v as readonly (number | bigint)[]).join(",")}]`);
    this.out.end(a);
  }

  private schedSlices(m: MergedEvent, ts: bigint, cpuTrack: number): void {
    const f = m.event.fields;
    const key = `${m.machine}:${m.event.cpu}`;
    if (this.running.has(key)) {
      const p = this.packetStart(m.machine, ts, SEQ_NEEDS_INCREMENTAL_STATE);
      const t = this.out.begin(11);
      this.num(9, TYPE_SLICE_END);
      this.num(11, cpuTrack);
      this.out.end(t);
      this.out.end(p);
      this.running.delete(key);
    }
    const nextPid = f.next_pid;
    if (nextPid === undefined || nextPid === 0 || nextPid === 0n) return;
    const it = this.interned[m.machine] as Interned;
    const nameIid = it.iid(2, `${typeof f.next_comm === "string" ? f.next_comm : "?"} ${nextPid}`);
    const p = this.packetStart(m.machine, ts, SEQ_NEEDS_INCREMENTAL_STATE);
    this.internedData(m.machine);
    const t = this.out.begin(11);
    this.num(9, TYPE_SLICE_BEGIN);
    this.num(11, cpuTrack);
    this.num(10, nameIid);
    this.out.end(t);
    this.out.end(p);
    this.running.add(key);
  }

  /** The encoded constant part of an instant: its type, the machine's category, its CPU and uncertainty arguments. */
  private prefix(it: Interned, machine: number, cpu: number, bound: bigint | null): Uint8Array {
    let byCpu = it.prefixes.get(bound);
    if (!byCpu) it.prefixes.set(bound, (byCpu = []));
    let bytes = byCpu[cpu + 1];
    if (!bytes) {
      const saved = this.out;
      const one = new ProtoBuffer(64);
      this.out = one;
      this.num(9, TYPE_INSTANT);
      this.num(3, it.iid(1, this.machineName(machine)));
      this.annotation(machine, "cpu", cpu);
      this.annotation(machine, "uncertainty_ns", bound === null ? "unknown" : bound);
      this.out = saved;
      bytes = one.take();
      byCpu[cpu + 1] = bytes;
    }
    return bytes;
  }

  write(events: readonly MergedEvent[]): void {
    this.reclaim();
    const toNs = this.header.toNanoseconds;
    const out = this.out;
    for (const m of events) {
      const e = m.event;
      const machine = m.machine;
      const it = this.interned[machine] as Interned;
      const ts = toNs ? toNs(m.ts) : m.ts;
      const cpuTrack = this.cpuTrack(machine, e.cpu);
      const track = e.tid >= 0 ? this.threadTrack(machine, e) : cpuTrack;
      if (e.name === "sched:sched_switch" && e.cpu >= 0) this.schedSlices(m, ts, cpuTrack);
      // Names are interned before the packet opens, so its interned data precede their use.
      const nameIid = it.iid(2, e.name);
      for (const k in e.fields) it.fieldIid(k);
      if (m.flags !== 0) for (const [bit, k] of MERGE_FLAG_NAMES) if (m.flags & bit) it.iid(3, k);
      const prefix = this.prefix(it, machine, e.cpu, m.boundNs);
      const p = out.begin(1);
      out.tag(8, WIRE.varint);
      out.varint64(ts);
      out.raw(it.packetTail);
      this.internedData(machine);
      const t = out.begin(11);
      out.raw(prefix);
      this.num(11, track);
      this.num(10, nameIid);
      const r = out.begin(4);
      this.num(1, it.iid(3, "raw_ts"));
      out.tag(3, WIRE.varint);
      out.varint64(e.ts);
      out.end(r);
      if (m.flags !== 0) for (const [bit, k] of MERGE_FLAG_NAMES) if (m.flags & bit) this.annotation(machine, k, true);
      for (const k in e.fields) this.annotationIid(it.fieldIid(k), e.fields[k] as FieldValue);
      out.end(t);
      out.end(p);
    }
  }

  /** After a flush, the caller has written the view out: the buffer is ours again. */
  private reclaim(): void {
    if (this.handedOut) {
      this.out.reset();
      this.handedOut = false;
    }
  }

  pending(): number {
    return this.handedOut ? 0 : this.out.length;
  }

  flush(): void {
    this.reclaim();
    if (this.out.length === 0) return;
    this.sink.push(this.out.view());
    this.handedOut = true;
  }

  end(): void {
    // Slices still open run to the end of the trace, as Perfetto shows unterminated slices.
    this.flush();
  }
}
