/**
 * Test support: writes perf.data files byte by byte, in either byte order, for
 * what a recording on this machine cannot produce (TIME_CONV needs
 * cap_user_time, LOST needs an overrun, AUXTRACE needs Intel PT, a big-endian
 * file needs a big-endian machine) and for damaged files with a known defect.
 * The layout follows perf's perf.data-file-format documentation and
 * `perf_event.h`; the real recordings prove the reader on perf's own output.
 */
import { Bytes } from "./bytes.js";

export { Bytes };

/** sample_type bits used here. */
export const S = { IP: 1, TID: 2, TIME: 4, ADDR: 8, READ: 16, CALLCHAIN: 32, ID: 64, CPU: 128, PERIOD: 256, STREAM_ID: 512, RAW: 1024, IDENTIFIER: 1 << 16 } as const;


export interface AttrSpec {
  readonly type?: number;
  readonly config?: bigint;
  readonly sampleType: number;
  readonly readFormat?: number;
  readonly sampleIdAll?: boolean;
  readonly clockId?: number;
  readonly ids: readonly bigint[];
}

/** The values of one SAMPLE or of a sample_id_all trailer (absent ones are written as 0 when the layout has them). */
export interface SampleValues {
  readonly id?: bigint;
  readonly ip?: bigint;
  readonly pid?: number;
  readonly tid?: number;
  readonly time?: bigint;
  readonly addr?: bigint;
  readonly streamId?: bigint;
  readonly cpu?: number;
  readonly period?: bigint;
  /** READ values: the raw u64 words (their count must fit the attr's read_format). */
  readonly read?: readonly bigint[];
  readonly callchain?: readonly bigint[];
  readonly raw?: Uint8Array;
}

const ATTR_SIZE = 128;

/** Writes a `perf_event_attr` of 128 bytes (PERF_ATTR_SIZE_VER7 era). */
export function attrBytes(a: AttrSpec, le: boolean): Uint8Array {
  let flags = 0n;
  if (a.sampleIdAll) flags |= 1n << 18n;
  if (a.clockId !== undefined) flags |= 1n << 25n;
  const b = new Bytes(le)
    .u32(a.type ?? 1)
    .u32(ATTR_SIZE)
    .u64(a.config ?? 0n)
    .u64(1)
    .u64(a.sampleType)
    .u64(a.readFormat ?? 0)
    .u64(flags)
    .u32(0)
    .u32(0)
    .u64(0)
    .u64(0)
    .u64(0)
    .u64(0)
    .u32(0)
    .i32(a.clockId ?? 0);
  while (b.length < ATTR_SIZE) b.u8(0);
  return b.done();
}

export class PerfDataBuilder {
  readonly attrs: AttrSpec[] = [];
  private readonly records: Uint8Array[] = [];
  readonly features = new Map<number, Uint8Array>();

  constructor(readonly le = true) {}

  attr(a: AttrSpec): this {
    this.attrs.push(a);
    return this;
  }

  /** Appends a record: header (type, misc, size) and body; `extra` follows outside the size (AUXTRACE data). */
  record(type: number, body: Uint8Array, misc = 0, extra?: Uint8Array): this {
    const r = new Bytes(this.le).u32(type).u16(misc).u16(8 + body.length).bytes(body);
    if (extra) r.bytes(extra);
    this.records.push(r.done());
    return this;
  }

  /** Appends raw bytes to the data section (for damage). */
  rawData(b: Uint8Array): this {
    this.records.push(b);
    return this;
  }

  sample(v: SampleValues, attr = this.attrs[0] as AttrSpec): this {
    const st = attr.sampleType;
    const b = new Bytes(this.le);
    if (st & S.IDENTIFIER) b.u64(v.id ?? 0n);
    if (st & S.IP) b.u64(v.ip ?? 0n);
    if (st & S.TID) b.i32(v.pid ?? 0).i32(v.tid ?? 0);
    if (st & S.TIME) b.u64(v.time ?? 0n);
    if (st & S.ADDR) b.u64(v.addr ?? 0n);
    if (st & S.ID) b.u64(v.id ?? 0n);
    if (st & S.STREAM_ID) b.u64(v.streamId ?? 0n);
    if (st & S.CPU) b.u32(v.cpu ?? 0).u32(0);
    if (st & S.PERIOD) b.u64(v.period ?? 0n);
    if (st & S.READ) for (const w of v.read ?? []) b.u64(w);
    if (st & S.CALLCHAIN) {
      b.u64(v.callchain?.length ?? 0);
      for (const ip of v.callchain ?? []) b.u64(ip);
    }
    if (st & S.RAW) {
      const raw = v.raw ?? new Uint8Array(4);
      // The kernel pads the raw data so that the u32 size and the data end on 8 bytes.
      const padded = Math.ceil((raw.length + 4) / 8) * 8 - 4;
      b.u32(padded).bytes(raw);
      for (let i = raw.length; i < padded; i++) b.u8(0);
    }
    return this.record(9, b.done());
  }

  /** The sample_id_all trailer of a non-sample record for `attr`. */
  trailer(v: SampleValues, attr = this.attrs[0] as AttrSpec): Uint8Array {
    const st = attr.sampleType;
    const b = new Bytes(this.le);
    if (!attr.sampleIdAll) return b.done();
    if (st & S.TID) b.i32(v.pid ?? 0).i32(v.tid ?? 0);
    if (st & S.TIME) b.u64(v.time ?? 0n);
    if (st & S.ID) b.u64(v.id ?? 0n);
    if (st & S.STREAM_ID) b.u64(v.streamId ?? 0n);
    if (st & S.CPU) b.u32(v.cpu ?? 0).u32(0);
    if (st & S.IDENTIFIER) b.u64(v.id ?? 0n);
    return b.done();
  }

  comm(pid: number, tid: number, comm: string, t: SampleValues, exec = false): this {
    const body = new Bytes(this.le).i32(pid).i32(tid).cstr(comm).bytes(this.trailer({ pid, tid, ...t }));
    return this.record(3, body.done(), exec ? 1 << 13 : 0);
  }

  fork(type: 4 | 7, pid: number, ppid: number, tid: number, ptid: number, t: SampleValues): this {
    const body = new Bytes(this.le).i32(pid).i32(ppid).i32(tid).i32(ptid).u64(t.time ?? 0n).bytes(this.trailer({ pid, tid, ...t }));
    return this.record(type, body.done());
  }

  lost(id: bigint, count: bigint, t: SampleValues): this {
    return this.record(2, new Bytes(this.le).u64(id).u64(count).bytes(this.trailer(t)).done());
  }

  lostSamples(count: bigint, t: SampleValues): this {
    return this.record(13, new Bytes(this.le).u64(count).bytes(this.trailer(t)).done());
  }

  finishedRound(): this {
    return this.record(68, new Uint8Array(0));
  }

  timeConv(shift: number, mult: number, zero: bigint, long?: { cycles: bigint; mask: bigint; capZero: boolean; capShort: boolean }): this {
    const b = new Bytes(this.le).u64(shift).u64(mult).u64(zero);
    if (long) b.u64(long.cycles).u64(long.mask).u8(long.capZero ? 1 : 0).u8(long.capShort ? 1 : 0).u32(0).u16(0);
    return this.record(79, b.done());
  }

  /** AUXTRACE: the record, then `data` outside its size. */
  auxtrace(data: Uint8Array): this {
    const body = new Bytes(this.le).u64(data.length).u64(0).u64(0).u32(0).u32(0).u32(0).u32(0);
    return this.record(71, body.done(), 0, data);
  }

  /** HEADER_EVENT_DESC for the attrs, with these names. */
  eventDesc(names: readonly string[]): this {
    const b = new Bytes(this.le).u32(this.attrs.length).u32(ATTR_SIZE);
    this.attrs.forEach((a, i) => {
      b.bytes(attrBytes(a, this.le)).u32(a.ids.length).headerString(names[i] ?? "");
      for (const id of a.ids) b.u64(id);
    });
    this.features.set(12, b.done());
    return this;
  }

  /** A file-mode perf.data: header, ids, attrs, data, feature table and sections. */
  build(): Uint8Array {
    const le = this.le;
    const out = new Bytes(le);
    const HEADER = 104;
    // ids first, then attrs, then data, as perf lays them out.
    const idBlocks = this.attrs.map((a) => {
      const b = new Bytes(le);
      for (const id of a.ids) b.u64(id);
      return b.done();
    });
    let at = HEADER;
    const idOffsets = idBlocks.map((b) => {
      const o = at;
      at += b.length;
      return o;
    });
    const attrsAt = at;
    const attrEntry = ATTR_SIZE + 16;
    at += attrEntry * this.attrs.length;
    const dataAt = at;
    const data = new Bytes(le);
    for (const r of this.records) data.bytes(r);
    const dataBytes = data.done();
    const featTableAt = dataAt + dataBytes.length;
    const feats = [...this.features.keys()].sort((a, b) => a - b);
    let featAt = featTableAt + 16 * feats.length;

    out.bytes(le ? new TextEncoder().encode("PERFILE2") : new TextEncoder().encode("2ELIFREP"));
    out.u64(HEADER).u64(attrEntry).u64(attrsAt).u64(attrEntry * this.attrs.length).u64(dataAt).u64(dataBytes.length).u64(0).u64(0);
    const bitmap = [0n, 0n, 0n, 0n];
    for (const f of feats) bitmap[f >> 6] = (bitmap[f >> 6] as bigint) | (1n << BigInt(f & 63));
    for (const w of bitmap) out.u64(w);
    for (const b of idBlocks) out.bytes(b);
    this.attrs.forEach((a, i) => out.bytes(attrBytes(a, le)).u64(idOffsets[i] as number).u64(a.ids.length * 8));
    out.bytes(dataBytes);
    for (const f of feats) {
      const sz = (this.features.get(f) as Uint8Array).length;
      out.u64(featAt).u64(sz);
      featAt += sz;
    }
    for (const f of feats) out.bytes(this.features.get(f) as Uint8Array);
    return out.done();
  }

  /** A pipe-mode perf.data: the 16-byte header, HEADER_ATTR and HEADER_FEATURE records, then the records. */
  buildPipe(): Uint8Array {
    const le = this.le;
    const out = new Bytes(le).bytes(new TextEncoder().encode(le ? "PERFILE2" : "2ELIFREP")).u64(16);
    for (const a of this.attrs) {
      const body = new Bytes(le).bytes(attrBytes(a, le));
      for (const id of a.ids) body.u64(id);
      const b = body.done();
      out.u32(64).u16(0).u16(8 + b.length).bytes(b);
    }
    for (const [f, bytes] of [...this.features].sort((x, y) => x[0] - y[0])) {
      out.u32(80).u16(0).u16(16 + bytes.length).u64(f).bytes(bytes);
    }
    for (const r of this.records) out.bytes(r);
    return out.done();
  }
}

/**
 * A small file with one of nearly every record kind the reader handles (for
 * the fuzzers): two attrs, samples with READ groups and callchains, COMM,
 * FORK, EXIT, LOST, LOST_SAMPLES, TIME_CONV, AUXTRACE, EVENT_DESC, rounds.
 */
export function richFile(le: boolean): PerfDataBuilder {
  const a: AttrSpec = { type: 0, sampleType: S.IDENTIFIER | S.IP | S.TID | S.TIME | S.ADDR | S.CPU | S.PERIOD | S.READ | S.CALLCHAIN, readFormat: 8 | 4 | 16, sampleIdAll: true, ids: [1n, 2n] };
  const b: AttrSpec = { type: 1, sampleType: S.IDENTIFIER | S.TID | S.TIME | S.CPU, sampleIdAll: true, ids: [3n] };
  const f = new PerfDataBuilder(le).attr(a).attr(b).eventDesc(["cycles", "cpu-clock"]);
  f.timeConv(10, 500, 1234n, { cycles: 5n, mask: 0xffffn, capZero: true, capShort: true });
  f.comm(10, 10, "main", { time: 0n, id: 0n });
  f.sample({ id: 1n, ip: 0x1000n, pid: 10, tid: 10, time: 100n, addr: 8n, cpu: 0, period: 1n, read: [1n, 9n, 1n, 0n], callchain: [1n, 2n] }, a);
  f.fork(7, 10, 10, 11, 10, { time: 110n, id: 3n, cpu: 1 });
  f.sample({ id: 3n, pid: 10, tid: 11, time: 120n, cpu: 1 }, b);
  f.finishedRound();
  f.lost(1n, 5n, { time: 130n, id: 1n, cpu: 0 });
  f.auxtrace(new Uint8Array(24).fill(7));
  f.sample({ id: 2n, ip: 0x2000n, pid: 10, tid: 10, time: 125n, cpu: 1, read: [2n, 1n, 2n, 0n, 3n, 3n, 1n], callchain: [] }, a);
  f.fork(4, 10, 10, 11, 10, { time: 140n, id: 3n, cpu: 1 });
  f.lostSamples(2n, { time: 150n, id: 3n, cpu: 0 });
  f.record(200, new Uint8Array(8));
  f.finishedRound();
  return f;
}
