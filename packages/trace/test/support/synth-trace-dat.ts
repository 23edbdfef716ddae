/**
 * Test support: writes a trace.dat v6 from a description of its ring-buffer
 * pages, in either byte order, laid out as the kernel's ring buffer and
 * trace-cmd lay them out (kernel/trace/ring_buffer.c, trace-cmd.dat.v6(5)).
 * Used to reach what recordings on this machine rarely or never contain:
 * big-endian files, absolute TIME_STAMP records, huge TIME_EXTEND deltas,
 * timestamps near 2^64, padding and discarded events, pages flagged with lost
 * events with and without a stored count.
 */
import { Bytes } from "./bytes.js";

export type SynthRecord =
  | { readonly kind: "data"; readonly delta: number; readonly pid: number; readonly text: string; readonly long?: boolean }
  | { readonly kind: "pad"; readonly delta: number; readonly length: number }
  | { readonly kind: "extend"; readonly delta: bigint }
  | { readonly kind: "stamp"; readonly abs: bigint };

export interface SynthPage {
  readonly ts: bigint;
  readonly records: readonly SynthRecord[];
  /** Lost events before this page: a stored count, or null for "some, count unknown". */
  readonly missed?: bigint | null;
}

export const PAGE_SIZE = 4096;
const DATA_AT = 16;
export const PRINT_ID = 5;

const HEADER_PAGE =
  "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";
const HEADER_EVENT = "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n\tpadding     : type == 29\n\ttime_extend : type == 30\n\ttime_stamp : type == 31\n\tdata max type_len  == 28\n";
const PRINT_FORMAT = `name: print\nID: ${PRINT_ID}\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n\nprint fmt: "%ps: %s", (void *)REC->ip, REC->buf\n`;


/** The record bytes of a print event: common fields, ip, text (NUL-terminated, padded to 4). */
export function printPayload(pid: number, text: string, le: boolean): Uint8Array {
  const t = new TextEncoder().encode(`${text}\0`);
  const len = (16 + t.length + 3) & ~3;
  const b = new Uint8Array(len);
  const d = new DataView(b.buffer);
  d.setUint16(0, PRINT_ID, le);
  d.setInt32(4, pid, le);
  d.setBigUint64(8, 0xffffffff81000000n, le);
  b.set(t, 16);
  return b;
}

/** Encodes one page; throws when the records do not fit. */
export function encodePage(page: SynthPage, le: boolean): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  const d = new DataView(b.buffer);
  let p = DATA_AT;
  const head = (typeLen: number, delta: number): void => {
    d.setUint32(p, le ? ((delta << 5) | typeLen) >>> 0 : ((typeLen << 27) | delta) >>> 0, le);
  };
  for (const r of page.records) {
    if (r.kind === "data") {
      const payload = printPayload(r.pid, r.text, le);
      if (!r.long && payload.length <= 112) {
        head(payload.length / 4, r.delta);
        b.set(payload, p + 4);
        p += 4 + payload.length;
      } else {
        head(0, r.delta);
        d.setUint32(p + 4, payload.length + 4, le);
        b.set(payload, p + 8);
        p += 8 + payload.length;
      }
    } else if (r.kind === "pad") {
      head(29, r.delta);
      d.setUint32(p + 4, r.length, le);
      p += 4 + r.length;
    } else {
      const v = r.kind === "extend" ? r.delta : r.abs & ((1n << 59n) - 1n);
      head(r.kind === "extend" ? 30 : 31, Number(v & 0x7ffffffn));
      d.setUint32(p + 4, Number(v >> 27n), le);
      p += 8;
    }
    if (p > PAGE_SIZE - 8) throw new Error("page overflow");
  }
  const size = p - DATA_AT;
  let commit = BigInt(size);
  if (page.missed !== undefined) {
    commit |= 1n << 31n;
    if (page.missed !== null) {
      commit |= 1n << 30n;
      d.setBigUint64(p, page.missed, le);
    }
  }
  d.setBigUint64(0, page.ts, le);
  d.setBigUint64(8, commit, le);
  return b;
}

/** A whole trace.dat v6: pages per CPU (an empty list for a CPU without data). */
export function writeTraceDatV6(cpus: readonly (readonly SynthPage[])[], le: boolean, clock = "mono", cmdlines = "1 one\n2 two\n"): Uint8Array {
  const w = new Bytes(le);
  w.bytes(new Uint8Array([0x17, 0x08, 0x44]));
  w.str("tracing", false);
  w.str("6");
  w.num(le ? 0 : 1, 1);
  w.num(8, 1);
  w.num(PAGE_SIZE, 4);
  w.str("header_page");
  w.num(HEADER_PAGE.length, 8);
  w.str(HEADER_PAGE, false);
  w.str("header_event");
  w.num(HEADER_EVENT.length, 8);
  w.str(HEADER_EVENT, false);
  w.num(1, 4);
  w.num(PRINT_FORMAT.length, 8);
  w.str(PRINT_FORMAT, false);
  w.num(0, 4); // event systems
  w.num(0, 4); // kallsyms
  w.num(0, 4); // printk
  w.num(cmdlines.length, 8);
  w.str(cmdlines, false);
  w.num(cpus.length, 4);
  w.str("options  ");
  w.num(4, 2); // TRACECLOCK: its presence says the clock text follows the CPU offsets
  w.num(0, 4);
  w.num(0, 2);
  w.str("flyrecord");
  const clockText = `[${clock}]`;
  const offsetsEnd = w.length + cpus.length * 16 + 8 + clockText.length;
  let at = Math.ceil(offsetsEnd / PAGE_SIZE) * PAGE_SIZE;
  const pages: Uint8Array[] = [];
  for (const cpu of cpus) {
    w.num(cpu.length === 0 ? 0 : at, 8);
    w.num(cpu.length * PAGE_SIZE, 8);
    for (const pg of cpu) pages.push(encodePage(pg, le));
    at += cpu.length * PAGE_SIZE;
  }
  w.num(clockText.length, 8);
  w.str(clockText, false);
  w.bytes(new Uint8Array(Math.ceil(w.length / PAGE_SIZE) * PAGE_SIZE - w.length));
  for (const p of pages) w.bytes(p);
  return w.done();
}

/** What a reader must make of the pages: per CPU, the items in order with their timestamps (an independent model of the ring buffer's time arithmetic). */
export function expectedItems(cpus: readonly (readonly SynthPage[])[]): { cpu: number; ts: bigint; kind: "event" | "lost"; pid: number; text: string | null; count: bigint | null }[] {
  const out: { cpu: number; ts: bigint; kind: "event" | "lost"; pid: number; text: string | null; count: bigint | null }[] = [];
  const MSB = 0x1fn << 59n;
  cpus.forEach((pages, cpu) => {
    for (const pg of pages) {
      let ts = pg.ts;
      if (pg.missed !== undefined) out.push({ cpu, ts, kind: "lost", pid: -1, text: null, count: pg.missed });
      for (const r of pg.records) {
        if (r.kind === "data") {
          ts = BigInt.asUintN(64, ts + BigInt(r.delta));
          out.push({ cpu, ts, kind: "event", pid: r.pid, text: r.text, count: null });
        } else if (r.kind === "pad") ts = BigInt.asUintN(64, ts + BigInt(r.delta));
        else if (r.kind === "extend") ts = BigInt.asUintN(64, ts + r.delta);
        else ts = (r.abs & ((1n << 59n) - 1n)) | (ts & MSB);
      }
    }
  });
  return out;
}
