/**
 * Perfetto's protobuf trace format for the merged timeline.
 *
 * Field numbers are Perfetto's published schema (protos/perfetto/trace/
 * trace_packet.proto and track_event/*.proto):
 *   Trace.packet = 1;
 *   TracePacket: timestamp = 8, trusted_packet_sequence_id = 10, track_event = 11,
 *     sequence_flags = 13, track_descriptor = 60, machine_id = 98;
 *   TrackDescriptor: uuid = 1, name = 2, process = 3, thread = 4, parent_uuid = 5;
 *   ProcessDescriptor: pid = 1, process_name = 6; ThreadDescriptor: pid = 1, tid = 2, thread_name = 5;
 *   TrackEvent: debug_annotations = 4, type = 9 (SLICE_BEGIN 1, SLICE_END 2, INSTANT 3),
 *     track_uuid = 11, categories = 22, name = 23;
 *   DebugAnnotation: bool_value = 2, uint_value = 3, int_value = 4, string_value = 6, name = 10.
 *
 * Layout: one machine per input (`machine_id` = input index; 0 is the first,
 * which Perfetto treats as the host), one packet sequence per machine. Each
 * event is an instant on its thread's track (process and thread descriptors
 * named as the trace names them, with the machine's name in brackets), or on
 * its CPU's track when the thread is unknown; a machine's CPU tracks also
 * carry one slice per scheduled thread, from `sched:sched_switch`. Decoded
 * fields, the raw timestamp, the CPU and the mapping's uncertainty are the
 * event's arguments.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { TraceEvent, FieldValue } from "../model/event.js";
import { MERGE_FLAG, type MergedEvent } from "../merge/merger.js";
import { hexBytes } from "./field-text.js";
import type { ChunkSink, MergeHeader, MergeWriter } from "./writer.js";

const LEN = WireType.LengthDelimited;
const VARINT = WireType.Varint;

const TYPE_SLICE_BEGIN = 1;
const TYPE_SLICE_END = 2;
const TYPE_INSTANT = 3;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;

/** Track uuids: machine (16 bits) | kind (8 bits) | id (40 bits), never 0. */
const KIND = { machine: 1n, cpu: 2n, process: 3n, thread: 4n } as const;
function uuid(machine: number, kind: bigint, id: number): bigint {
  return (BigInt(machine + 1) << 48n) | (kind << 40n) | BigInt.asUintN(40, BigInt(id));
}

/** Writes the merged timeline as a Perfetto trace (`.pftrace`). */
export class PerfettoWriter implements MergeWriter {
  private header!: MergeHeader;
  private readonly known = new Set<bigint>();
  /** Per machine and CPU: the thread whose slice is open on the CPU track. */
  private readonly running = new Map<string, boolean>();
  private readonly started = new Set<number>();

  constructor(private readonly sink: ChunkSink) {}

  begin(header: MergeHeader): void {
    this.header = header;
    const w = new BinaryWriter();
    for (const m of header.machines) {
      this.packetStart(w, m.index, null);
      w.tag(60, LEN).fork();
      w.tag(1, VARINT).uint64(uuid(m.index, KIND.machine, 0));
      w.tag(2, LEN).string(m.name);
      w.join();
      w.join();
      this.known.add(uuid(m.index, KIND.machine, 0));
    }
    this.sink.push(w.finish());
  }

  /** Opens `Trace.packet` with the fields every packet of a machine's sequence carries. */
  private packetStart(w: BinaryWriter, machine: number, ts: bigint | null): void {
    w.tag(1, LEN).fork();
    if (ts !== null) w.tag(8, VARINT).uint64(ts);
    w.tag(10, VARINT).uint32(machine + 1);
    if (!this.started.has(machine)) {
      this.started.add(machine);
      w.tag(13, VARINT).uint32(SEQ_INCREMENTAL_STATE_CLEARED);
    }
    if (machine > 0) w.tag(98, VARINT).uint32(machine);
  }

  private describeCpu(w: BinaryWriter, machine: number, cpu: number): bigint {
    const id = uuid(machine, KIND.cpu, cpu < 0 ? 0xffff : cpu);
    if (this.known.has(id)) return id;
    this.known.add(id);
    const name = this.header.machines[machine]?.name ?? String(machine);
    this.packetStart(w, machine, null);
    w.tag(60, LEN).fork();
    w.tag(1, VARINT).uint64(id);
    w.tag(5, VARINT).uint64(uuid(machine, KIND.machine, 0));
    w.tag(2, LEN).string(cpu < 0 ? `${name} CPU ?` : `${name} CPU ${cpu}`);
    w.join();
    w.join();
    return id;
  }

  private describeThread(w: BinaryWriter, machine: number, e: TraceEvent): bigint {
    const tid = e.tid;
    const pid = e.pid >= 0 ? e.pid : tid;
    const id = uuid(machine, KIND.thread, tid);
    if (this.known.has(id)) return id;
    const name = this.header.machines[machine]?.name ?? String(machine);
    const pidTrack = uuid(machine, KIND.process, pid);
    if (!this.known.has(pidTrack)) {
      this.known.add(pidTrack);
      this.packetStart(w, machine, null);
      w.tag(60, LEN).fork();
      w.tag(1, VARINT).uint64(pidTrack);
      w.tag(3, LEN).fork();
      w.tag(1, VARINT).int32(pid);
      w.tag(6, LEN).string(`${pid === tid && e.comm ? e.comm : `pid ${pid}`} [${name}]`);
      w.join();
      w.join();
      w.join();
    }
    this.known.add(id);
    this.packetStart(w, machine, null);
    w.tag(60, LEN).fork();
    w.tag(1, VARINT).uint64(id);
    w.tag(4, LEN).fork();
    w.tag(1, VARINT).int32(pid);
    w.tag(2, VARINT).int32(tid);
    w.tag(5, LEN).string(`${e.comm ?? `tid ${tid}`} [${name}]`);
    w.join();
    w.join();
    w.join();
    return id;
  }

  private annotation(w: BinaryWriter, name: string, v: FieldValue | boolean): void {
    w.tag(4, LEN).fork();
    w.tag(10, LEN).string(name);
    if (typeof v === "boolean") w.tag(2, VARINT).bool(v);
    else if (typeof v === "number") {
      if (Number.isInteger(v)) w.tag(4, VARINT).int64(v);
      else w.tag(6, LEN).string(String(v));
    } else if (typeof v === "bigint") {
      if (v >= 0n) w.tag(3, VARINT).uint64(v);
      else w.tag(4, VARINT).int64(v);
    } else if (typeof v === "string") w.tag(6, LEN).string(v);
    else if (v === null) w.tag(6, LEN).string("(null)");
    else if (v instanceof Uint8Array) w.tag(6, LEN).string(hexBytes(v));
    else w.tag(6, LEN).string(`[${(v as readonly (number | bigint)[]).join(",")}]`);
    w.join();
  }

  private schedSlices(w: BinaryWriter, m: MergedEvent, ts: bigint, cpuTrack: bigint): void {
    const f = m.event.fields;
    const key = `${m.machine}:${m.event.cpu}`;
    if (this.running.get(key)) {
      this.packetStart(w, m.machine, ts);
      w.tag(11, LEN).fork();
      w.tag(9, VARINT).int32(TYPE_SLICE_END);
      w.tag(11, VARINT).uint64(cpuTrack);
      w.join();
      w.join();
      this.running.set(key, false);
    }
    const nextPid = f.next_pid;
    if (nextPid === undefined || nextPid === 0 || nextPid === 0n) return;
    this.packetStart(w, m.machine, ts);
    w.tag(11, LEN).fork();
    w.tag(9, VARINT).int32(TYPE_SLICE_BEGIN);
    w.tag(11, VARINT).uint64(cpuTrack);
    w.tag(23, LEN).string(`${typeof f.next_comm === "string" ? f.next_comm : "?"} ${nextPid}`);
    w.join();
    w.join();
    this.running.set(key, true);
  }

  write(events: readonly MergedEvent[]): void {
    const w = new BinaryWriter();
    const toNs = this.header.toNanoseconds;
    for (const m of events) {
      const e = m.event;
      const ts = toNs ? toNs(m.ts) : m.ts;
      const cpuTrack = this.describeCpu(w, m.machine, e.cpu);
      const track = e.tid >= 0 ? this.describeThread(w, m.machine, e) : cpuTrack;
      if (e.name === "sched:sched_switch" && e.cpu >= 0) this.schedSlices(w, m, ts, cpuTrack);
      this.packetStart(w, m.machine, ts);
      w.tag(11, LEN).fork();
      w.tag(9, VARINT).int32(TYPE_INSTANT);
      w.tag(11, VARINT).uint64(track);
      w.tag(22, LEN).string(this.header.machines[m.machine]?.name ?? "");
      w.tag(23, LEN).string(e.name);
      this.annotation(w, "cpu", e.cpu);
      this.annotation(w, "raw_ts", e.ts);
      if (m.boundNs !== null) this.annotation(w, "uncertainty_ns", m.boundNs);
      else this.annotation(w, "uncertainty_ns", "unknown");
      if (m.flags & MERGE_FLAG.orderUnknown) this.annotation(w, "order_unknown", true);
      if (m.flags & MERGE_FLAG.outsideEpoch) this.annotation(w, "outside_epochs", true);
      if (m.flags & MERGE_FLAG.outOfOrder) this.annotation(w, "out_of_order", true);
      if (m.flags & MERGE_FLAG.unmapped) this.annotation(w, "unmapped", true);
      for (const k in e.fields) this.annotation(w, `args.${k}`, e.fields[k] as FieldValue);
      w.join();
      w.join();
    }
    this.sink.push(w.finish());
  }

  end(): void {
    // Close slices still open on CPU tracks at the last timestamp written: nothing
    // to do — Perfetto shows an unterminated slice as running to the trace's end.
  }
}
