import type { GuestRecord, TimeShiftRecord, TscConversion } from "../../model/event.js";
import { BufferCursor } from "../../ftrace/byte-cursor.js";

/** trace-cmd option IDs (trace-cmd.dat.v7(5); the same numbers in v6). */
export const OPTION = {
  DONE: 0,
  DATE: 1,
  CPUSTAT: 2,
  BUFFER: 3,
  TRACECLOCK: 4,
  UNAME: 5,
  HOOK: 6,
  OFFSET: 7,
  CPUCOUNT: 8,
  VERSION: 9,
  PROCMAPS: 10,
  TRACEID: 11,
  TIME_SHIFT: 12,
  GUEST: 13,
  TSC2NSEC: 14,
  STRINGS: 15,
  HEADER_INFO: 16,
  FTRACE_EVENTS: 17,
  EVENT_FORMATS: 18,
  KALLSYMS: 19,
  PRINTK: 20,
  CMDLINES: 21,
  BUFFER_TEXT: 22,
} as const;

/** Options read and deliberately not used (they do not bear on events or time). */
export const IGNORED_OPTIONS: ReadonlySet<number> = new Set([OPTION.DATE, OPTION.UNAME, OPTION.HOOK, OPTION.OFFSET, OPTION.VERSION, OPTION.PROCMAPS, OPTION.STRINGS]);

/** Where one CPU's ring-buffer pages are in the file. */
export interface CpuData {
  readonly cpu: number;
  readonly offset: number;
  readonly size: number;
}

/** A BUFFER / BUFFER_TEXT option. */
export interface BufferOption {
  readonly name: string;
  /** v6: where the buffer's "flyrecord" tag is; v7: the offset of its data section. */
  readonly offset: number;
  /** v7 only (v6 keeps the clock after the CPU offsets). */
  readonly clock: string | null;
  readonly pageSize: number | null;
  readonly cpus: readonly CpuData[] | null;
  readonly latency: boolean;
}

/** Reads a NUL-terminated string from an option's payload. */
function str(c: BufferCursor, max = 4096): string {
  return c.cstring(Math.min(max, c.remaining));
}

/** The clock name in a trace_clock file's text (`[local] global …` → `local`), or the bare name. */
export function selectedClock(text: string): string | null {
  const m = /\[([^\]]+)\]/.exec(text);
  if (m) return (m[1] as string).trim() || null;
  const t = text.replace(/\0.*$/s, "").trim();
  return t === "" || /\s/.test(t) ? null : t;
}

export function parseBufferOption(payload: Uint8Array, le: boolean, where: string, base: number, v7: boolean, latency: boolean): BufferOption {
  const c = new BufferCursor(payload, le, where, base);
  const offset = Number(c.u64());
  const name = str(c);
  if (!v7) return { name, offset, clock: null, pageSize: null, cpus: null, latency };
  const clock = str(c);
  if (latency) return { name, offset, clock, pageSize: null, cpus: [], latency };
  // trace-cmd 3.x writes the page size before the CPU count; the first v7 writers did not.
  let pageSize: number | null = null;
  const rest = c.remaining;
  const tail = new DataView(payload.buffer, payload.byteOffset + payload.length - rest, rest);
  if (rest >= 8 && tail.getUint32(4, le) * 20 === rest - 8) pageSize = c.u32();
  else if (!(rest >= 4 && tail.getUint32(0, le) * 20 === rest - 4)) {
    throw new Error(`BUFFER option of ${JSON.stringify(name)}: ${rest} bytes after the clock fit no CPU list`);
  }
  const count = c.u32();
  const cpus: CpuData[] = [];
  for (let i = 0; i < count; i++) {
    const cpu = c.u32();
    const off = c.u64();
    const size = c.u64();
    if (off > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`BUFFER option of ${JSON.stringify(name)}: CPU ${cpu} offset/size out of range`);
    cpus.push({ cpu, offset: Number(off), size: Number(size) });
  }
  return { name, offset, clock, pageSize, cpus, latency };
}

export function parseTimeShift(payload: Uint8Array, le: boolean, where: string, base: number): TimeShiftRecord {
  const c = new BufferCursor(payload, le, where, base);
  const peerTraceId = c.u64();
  const flags = c.u32();
  const cpuCount = c.u32();
  if (cpuCount * 4 > c.remaining) throw new Error(`TIME_SHIFT declares ${cpuCount} CPUs in ${c.remaining} bytes`);
  const cpus: { times: bigint[]; offsets: bigint[]; scalings: bigint[]; fractions: number[] }[] = [];
  for (let i = 0; i < cpuCount; i++) {
    const n = c.u32();
    if (n * 24 > c.remaining) throw new Error(`TIME_SHIFT CPU ${i} declares ${n} samples in ${c.remaining} bytes`);
    const times: bigint[] = [];
    const offsets: bigint[] = [];
    const scalings: bigint[] = [];
    for (let k = 0; k < n; k++) times.push(c.u64());
    for (let k = 0; k < n; k++) offsets.push(BigInt.asIntN(64, c.u64()));
    for (let k = 0; k < n; k++) scalings.push(c.u64());
    cpus.push({ times, offsets, scalings, fractions: new Array<number>(n).fill(0) });
  }
  // The per-CPU fraction-bits block that trace-cmd appends and its man page leaves out.
  if (c.remaining > 0) {
    for (const cpu of cpus) {
      if (cpu.times.length * 8 > c.remaining) throw new Error(`TIME_SHIFT fraction block is shorter than its ${cpu.times.length} samples`);
      for (let k = 0; k < cpu.times.length; k++) {
        const f = c.u64();
        if (f > 64n) throw new Error(`TIME_SHIFT fraction bits ${f} > 64`);
        cpu.fractions[k] = Number(f);
      }
    }
  }
  return { peerTraceId, flags, cpus };
}

export function parseGuest(payload: Uint8Array, le: boolean, where: string, base: number): GuestRecord {
  const c = new BufferCursor(payload, le, where, base);
  const name = str(c);
  const traceId = c.u64();
  const n = c.u32();
  if (n * 8 > c.remaining) throw new Error(`GUEST ${JSON.stringify(name)} declares ${n} vCPUs in ${c.remaining} bytes`);
  const vcpuThreads: { vcpu: number; tid: number }[] = [];
  for (let i = 0; i < n; i++) {
    const vcpu = c.u32();
    const tid = c.u32() | 0;
    vcpuThreads.push({ vcpu, tid });
  }
  return { name, traceId, vcpuThreads };
}

export function parseTsc2Nsec(payload: Uint8Array, le: boolean, where: string, base: number): TscConversion {
  const c = new BufferCursor(payload, le, where, base);
  const mult = c.u32();
  const shift = c.u32();
  const offset = c.u64();
  return { mult, shift, offset };
}

/** CPUSTAT text: the CPU and its loss counters (`overrun`, `dropped events`, `commit overrun`). */
export function parseCpuStat(text: string): { cpu: number | null; overrun: number; dropped: number; commitOverrun: number } {
  const num = (re: RegExp): number => {
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const cpuMatch = /^CPU:\s*(\d+)/m.exec(text);
  return {
    cpu: cpuMatch ? Number(cpuMatch[1]) : null,
    overrun: num(/^overrun:\s*(\d+)/m),
    dropped: num(/^dropped events:\s*(\d+)/m),
    commitOverrun: num(/^commit overrun:\s*(\d+)/m),
  };
}
