import { BufferCursor, type ByteCursor, decodeLatin1, invalidTrace, safeNumber } from "./byte-cursor.js";
import { type EventFormat, type PageHeaderLayout, parseEventFormat, parseHeaderPage } from "./event-format.js";

/**
 * The tracing metadata trace-cmd stores in trace.dat (inline in v6, as
 * sections in v7) and perf stores in HEADER_TRACING_DATA: ring-buffer page
 * and event headers, event formats, kallsyms, printk formats, saved cmdlines.
 */
export interface TracingData {
  /** The version string of the embedded `\x17\x08\x44tracing` header (`0.6` for perf), or null without one. */
  readonly version: string | null;
  readonly littleEndian: boolean;
  /** The kernel's `long` size (the page header's commit field), which the ring buffer uses. */
  readonly longSize: number;
  /** The traced machine's page size from the embedded header, or null without one. */
  readonly pageSize: number | null;
  readonly headerPage: PageHeaderLayout;
  /** tracefs `events/header_event`, as text (its layout is fixed since Linux 2.6.31). */
  readonly headerEvent: string;
  /** Event formats by event ID (ftrace's own and every system's). */
  readonly formats: ReadonlyMap<number, EventFormat>;
  /** Saved cmdlines: pid → comm. */
  readonly cmdlines: ReadonlyMap<number, string>;
  /** trace_printk formats: address → format string. */
  readonly printkFormats: ReadonlyMap<bigint, string>;
  /** Bytes of kallsyms the block carried (not parsed: fields are decoded, addresses are not symbolised). */
  readonly kallsymsSize: number;
  /** Non-fatal problems (format files that do not parse, duplicate IDs), each naming the offset. */
  readonly warnings: readonly string[];
  /** Offset just after the last byte parsed (relative to the start of `bytes`). */
  readonly end: number;
}

/** What the tracing-data readers may hold in memory at most, per item (the files are small; a larger size means damage). */
export const TRACING_LIMITS = {
  headerFile: 1 << 20,
  formatFile: 4 << 20,
  formatCount: 1 << 20,
  systemName: 4096,
  printk: 64 << 20,
  cmdlines: 64 << 20,
} as const;

const MAGIC = [0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]; // \x17\x08\x44 "tracing"

/** True when `b` starts with the `\x17\x08\x44tracing` magic of trace.dat and perf's tracing data. */
export function hasTracingMagic(b: Uint8Array): boolean {
  if (b.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) return false;
  return true;
}

function sizeChecked(c: ByteCursor, size: bigint, limit: number, where: string, what: string): number {
  const at = c.position - 8;
  const n = safeNumber(size, where, at, `${what} size`);
  if (n > limit) throw invalidTrace(where, at, `${what} size ${n} exceeds the ${limit}-byte limit`);
  return n;
}

/** Reads `header_page` and `header_event` (name, u64 size, text each). */
export function readHeaderInfo(c: ByteCursor, where: string, fileLongSize: number): { headerPage: PageHeaderLayout; headerEvent: string; warnings: string[] } {
  const warnings: string[] = [];
  let at = c.position;
  const n1 = c.cstring(16);
  if (n1 !== "header_page") throw invalidTrace(where, at, `expected "header_page", found ${JSON.stringify(n1)}`);
  const pageText = decodeLatin1(c.bytes(sizeChecked(c, c.u64(), TRACING_LIMITS.headerFile, where, "header_page")));
  at = c.position;
  const n2 = c.cstring(16);
  if (n2 !== "header_event") throw invalidTrace(where, at, `expected "header_event", found ${JSON.stringify(n2)}`);
  const headerEvent = decodeLatin1(c.bytes(sizeChecked(c, c.u64(), TRACING_LIMITS.headerFile, where, "header_event")));
  const { fallbacks, ...headerPage } = parseHeaderPage(pageText, fileLongSize);
  if (fallbacks.length > 0) warnings.push(`${where}: offset 0x${at.toString(16)}: header_page lacks ${fallbacks.join(", ")}; assumed the standard layout`);
  return { headerPage, headerEvent, warnings };
}

/** Receives each format file of a tracing-data block: its text, system and offset. */
export type FormatSink = (text: string, system: string, at: number) => void;

function addFormat(formats: Map<number, EventFormat>, warnings: string[], text: string, system: string, longSize: number, where: string, at: number): void {
  let f: EventFormat;
  try {
    f = parseEventFormat(text, system, longSize);
  } catch (e) {
    warnings.push(`${where}: offset 0x${at.toString(16)}: ${(e as Error).message}; events of this format are reported as unknown`);
    return;
  }
  if (formats.has(f.id)) {
    const old = formats.get(f.id) as EventFormat;
    warnings.push(`${where}: offset 0x${at.toString(16)}: event ID ${f.id} (${f.system}:${f.name}) repeats ${old.system}:${old.name}; the later one is used`);
  }
  formats.set(f.id, f);
}

/** A sink that parses every format now, into `formats` (problems go to `warnings`). */
export function eagerFormats(formats: Map<number, EventFormat>, warnings: string[], longSize: number, where: string): FormatSink {
  return (text, system, at) => addFormat(formats, warnings, text, system, longSize, where, at);
}

const ID_LINE = /^ID:\s*(\d+)\s*$/m;

/**
 * Event formats by ID, each parsed the first time it is asked for: a trace.dat
 * carries every format of the machine (thousands) and a trace uses a few.
 * A format whose ID cannot be found is parsed at once, so its error is known.
 */
export class FormatTable {
  private readonly texts = new Map<number, { text: string; system: string; at: number }>();
  private readonly parsed = new Map<number, EventFormat | string>();

  constructor(
    private readonly longSize: number,
    private readonly where: string,
    private readonly warnings: string[],
  ) {}

  /** The sink that fills this table. */
  readonly sink: FormatSink = (text, system, at) => {
    const m = ID_LINE.exec(text);
    const id = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(id)) {
      const one = new Map<number, EventFormat>();
      addFormat(one, this.warnings, text, system, this.longSize, this.where, at);
      for (const [k, f] of one) this.parsed.set(k, f);
      return;
    }
    if (this.texts.has(id)) {
      const old = this.texts.get(id) as { system: string };
      this.warnings.push(`${this.where}: offset 0x${at.toString(16)}: event ID ${id} (system ${system}) repeats one of system ${old.system}; the later one is used`);
      this.parsed.delete(id);
    }
    this.texts.set(id, { text, system, at });
  };

  /** The format of an event ID, an error message when its file does not parse, or undefined when the file has none. */
  lookup(id: number): EventFormat | string | undefined {
    const done = this.parsed.get(id);
    if (done !== undefined) return done;
    const t = this.texts.get(id);
    if (!t) return undefined;
    let r: EventFormat | string;
    try {
      r = parseEventFormat(t.text, t.system, this.longSize);
      if (r.id !== id) r = `${this.where}: offset 0x${t.at.toString(16)}: event format (${t.system}): ID ${r.id} read where ${id} was found`;
    } catch (e) {
      r = `${this.where}: offset 0x${t.at.toString(16)}: ${(e as Error).message}`;
    }
    this.parsed.set(id, r);
    return r;
  }

  /** Number of formats in the file. */
  get size(): number {
    return this.texts.size + [...this.parsed.keys()].filter((k) => !this.texts.has(k)).length;
  }
}

/** Reads the ftrace formats block: u32 count, then per format a u64 size and the text. */
export function readFtraceFormats(c: ByteCursor, where: string, sink: FormatSink): void {
  const at = c.position;
  const count = c.u32();
  if (count > TRACING_LIMITS.formatCount) throw invalidTrace(where, at, `${count} ftrace formats is implausible`);
  for (let i = 0; i < count; i++) {
    const size = sizeChecked(c, c.u64(), TRACING_LIMITS.formatFile, where, "ftrace format");
    const p = c.position;
    sink(decodeLatin1(c.bytes(size)), "ftrace", p);
  }
}

/** Reads the event formats block: u32 systems; per system its name, u32 count, then u64 size + text per format. */
export function readEventFormats(c: ByteCursor, where: string, sink: FormatSink): void {
  let at = c.position;
  const systems = c.u32();
  if (systems > TRACING_LIMITS.formatCount) throw invalidTrace(where, at, `${systems} event systems is implausible`);
  for (let s = 0; s < systems; s++) {
    const system = c.cstring(TRACING_LIMITS.systemName);
    at = c.position;
    const count = c.u32();
    if (count > TRACING_LIMITS.formatCount) throw invalidTrace(where, at, `${count} formats in system ${system} is implausible`);
    for (let i = 0; i < count; i++) {
      const size = sizeChecked(c, c.u64(), TRACING_LIMITS.formatFile, where, `${system} format`);
      const p = c.position;
      sink(decodeLatin1(c.bytes(size)), system, p);
    }
  }
}

/** Skips the kallsyms block (u32 size + text); returns its size. */
export function skipKallsyms(c: ByteCursor): number {
  const size = c.u32();
  c.skip(size);
  return size;
}

/** Parses printk_formats text: `0xADDR : "format"` per line. */
export function parsePrintkFormats(text: string): Map<bigint, string> {
  const out = new Map<bigint, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(0x[0-9a-fA-F]+)\s*:\s*"?(.*?)"?\s*$/.exec(line);
    if (m) out.set(BigInt(m[1] as string), m[2] as string);
  }
  return out;
}

/** Reads the printk block (u32 size + text). */
export function readPrintk(c: ByteCursor, where: string): Map<bigint, string> {
  const at = c.position;
  const size = c.u32();
  if (size > TRACING_LIMITS.printk) throw invalidTrace(where, at, `printk formats size ${size} exceeds the limit`);
  return parsePrintkFormats(decodeLatin1(c.bytes(size)));
}

/** Parses saved_cmdlines text: `PID COMM` per line (the comm may hold spaces). */
export function parseCmdlines(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+) (.*)$/.exec(line);
    if (m) out.set(Number(m[1]), m[2] as string);
  }
  return out;
}

/** Reads the saved cmdlines block (u64 size + text). */
export function readCmdlines(c: ByteCursor, where: string): Map<number, string> {
  const size = sizeChecked(c, c.u64(), TRACING_LIMITS.cmdlines, where, "saved cmdlines");
  return parseCmdlines(new TextDecoder("utf-8").decode(c.bytes(size)));
}

/** The `\x17\x08\x44tracing` header: version, byte order, user-space long size, page size. */
export interface TracingHeader {
  readonly version: string;
  readonly littleEndian: boolean;
  readonly longSize: number;
  readonly pageSize: number;
}

/** Reads the magic header; the cursor's own byte order is irrelevant until the endian byte. */
export function readTracingHeader(bytes: Uint8Array, where: string): TracingHeader & { readonly end: number } {
  if (!hasTracingMagic(bytes)) throw invalidTrace(where, 0, "no \\x17\\x08\\x44tracing magic");
  const c = new BufferCursor(bytes, true, where, 0, MAGIC.length);
  const version = c.cstring(16);
  const at = c.position;
  const endian = c.u8();
  if (endian > 1) throw invalidTrace(where, at, `endianness byte ${endian} (expected 0 or 1)`);
  const longSize = c.u8();
  const littleEndian = endian === 0;
  const pageSize = new BufferCursor(bytes, littleEndian, where, 0, c.position).u32();
  return { version, littleEndian, longSize, pageSize, end: c.position + 4 };
}

/**
 * Parses a tracing-data block as perf's HEADER_TRACING_DATA and trace.dat v6
 * store it: an optional `\x17\x08\x44tracing` header (perf writes one; its
 * endian byte then overrides `littleEndian`), `header_page`, `header_event`,
 * ftrace formats, event formats per system, kallsyms (skipped), printk
 * formats and, when bytes remain, saved cmdlines. Format files that do not
 * parse become warnings (their events decode as unknown), as trace-cmd counts
 * them as parsing failures.
 *
 * @param where names the source in messages (`perf.data`, a path)
 * @throws ClocksourceError `INVALID_TRACE` naming the offset when the block is truncated or malformed
 */
export function parseTracingData(bytes: Uint8Array, littleEndian: boolean, where: string): TracingData {
  let start = 0;
  let version: string | null = null;
  let pageSize: number | null = null;
  let le = littleEndian;
  let userLong = 8;
  if (hasTracingMagic(bytes)) {
    const h = readTracingHeader(bytes, where);
    version = h.version;
    pageSize = h.pageSize;
    le = h.littleEndian;
    userLong = h.longSize === 4 ? 4 : 8;
    start = h.end;
  }
  const c = new BufferCursor(bytes, le, where, 0, start);
  const { headerPage, headerEvent, warnings } = readHeaderInfo(c, where, userLong);
  const longSize = headerPage.commitSize;
  const formats = new Map<number, EventFormat>();
  const sink = eagerFormats(formats, warnings, longSize, where);
  readFtraceFormats(c, where, sink);
  readEventFormats(c, where, sink);
  const kallsymsSize = skipKallsyms(c);
  const printkFormats = readPrintk(c, where);
  // perf before its tracing-data version 0.6 stopped here; trace.dat v6 goes on with the cpu count.
  const cmdlines = c.remaining >= 8 ? readCmdlines(c, where) : new Map<number, string>();
  return { version, littleEndian: le, longSize, pageSize, headerPage, headerEvent, formats, cmdlines, printkFormats, kallsymsSize, warnings, end: c.position };
}
