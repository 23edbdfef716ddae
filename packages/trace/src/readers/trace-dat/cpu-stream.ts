import { isClocksourceError } from "@clocksource/core";
import type { PageHeaderLayout } from "../../ftrace/event-format.js";
import { invalidTrace } from "../../ftrace/byte-cursor.js";
import type { Decompressor } from "./decompress.js";
import type { FileSource } from "./file-source.js";

/** Ring-buffer event types (kernel ring_buffer.c; tracefs `events/header_event`). */
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TS_SHIFT = 27;
const COMMIT_MASK = (1 << 27) - 1;
const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
/** The 5 high bits an absolute TIME_STAMP does not carry: they come from the running time. */
const TS_MSB = 0xf8n << 56n;
const TWO27 = 1 << 27;
const SAFE = Number.MAX_SAFE_INTEGER;

/** Limit on one decompressed chunk (trace-cmd writes chunks of ten pages); each CPU holds one at a time. */
const MAX_CHUNK = 16 << 20;

/** Reports a non-fatal problem (the reader collects and bounds them). */
export type Warn = (message: string) => void;

/** A page source: hands out pages one by one. */
interface PageSource {
  /** The next page: bytes and the index of its first byte in them, or null at the end. */
  next(): { buf: Uint8Array; view: DataView; start: number; where: number; label: string } | null;
}

/** Uncompressed per-CPU data: pages read from the file a block at a time. */
class RawPages implements PageSource {
  private readonly block: Uint8Array;
  private readonly view: DataView;
  private blockAt = 0;
  private blockLen = 0;
  private idx = 0;
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly src: FileSource,
    offset: number,
    size: number,
    private readonly pageSize: number,
    pagesPerBlock: number,
    private readonly warn: Warn,
    private readonly label: string,
  ) {
    this.pos = offset;
    this.end = offset + size;
    this.block = new Uint8Array(pageSize * pagesPerBlock);
    this.view = new DataView(this.block.buffer);
  }

  next(): ReturnType<PageSource["next"]> {
    if (this.idx + this.pageSize > this.blockLen) {
      if (this.pos >= this.end) return null;
      const want = Math.min(this.block.length, this.end - this.pos);
      const got = this.src.readInto(this.block, 0, want, this.pos);
      this.blockAt = this.pos;
      this.pos += got;
      this.idx = 0;
      if (got < this.pageSize) {
        if (got > 0) this.warn(`${this.src.path}: offset 0x${this.blockAt.toString(16)}: ${this.label}: the last ${got} bytes are less than a page (${this.pageSize}); ignored`);
        this.pos = this.end;
        this.blockLen = 0;
        return null;
      }
      this.blockLen = got - (got % this.pageSize);
      if (got % this.pageSize !== 0) {
        this.warn(`${this.src.path}: offset 0x${(this.blockAt + this.blockLen).toString(16)}: ${this.label}: the last ${got % this.pageSize} bytes are less than a page (${this.pageSize}); ignored`);
        this.pos = this.end;
      }
    }
    const start = this.idx;
    this.idx += this.pageSize;
    return { buf: this.block, view: this.view, start, where: this.blockAt + start, label: this.label };
  }
}

/** Compressed per-CPU data (v7): `u32 count`, then chunks `{u32 csize, u32 usize, data}`, decompressed one at a time. */
class ChunkPages implements PageSource {
  private pos: number;
  private readonly end: number;
  private chunksLeft = -1;
  private chunk: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.chunk.buffer);
  private chunkAt = 0;
  private chunkNo = -1;
  private idx = 0;

  constructor(
    private readonly src: FileSource,
    offset: number,
    size: number,
    private readonly pageSize: number,
    private readonly le: boolean,
    private readonly decompress: Decompressor,
    private readonly compression: string,
    private readonly label: string,
  ) {
    this.pos = offset;
    // trace-cmd's recorded size of compressed CPU data leaves out the chunk-count word, so chunks are bounded by the file, not by it.
    this.end = Math.max(offset + size, src.size);
  }

  private u32(at: number, what: string): number {
    if (at + 4 > this.end) throw invalidTrace(this.src.path, at, `${this.label}: truncated: ${what} passes the end of the file (0x${this.end.toString(16)})`);
    return new DataView(this.src.read(at, 4, what).buffer).getUint32(0, this.le);
  }

  next(): ReturnType<PageSource["next"]> {
    for (;;) {
      if (this.idx + this.pageSize <= this.chunk.length) {
        const start = this.idx;
        this.idx += this.pageSize;
        return { buf: this.chunk, view: this.view, start, where: this.chunkAt, label: `${this.label}, chunk ${this.chunkNo} page ${start / this.pageSize}` };
      }
      if (this.chunksLeft < 0) {
        this.chunksLeft = this.u32(this.pos, "the chunk count");
        this.pos += 4;
      }
      if (this.chunksLeft === 0) return null;
      const at = this.pos;
      const csize = this.u32(at, "a chunk header");
      const usize = this.u32(at + 4, "a chunk header");
      if (at + 8 + csize > this.end) throw invalidTrace(this.src.path, at, `${this.label}: truncated: a chunk of ${csize} bytes passes the end of the file (0x${this.end.toString(16)})`);
      if (usize > MAX_CHUNK) throw invalidTrace(this.src.path, at, `${this.label}: a chunk decompresses to ${usize} bytes, over the ${MAX_CHUNK}-byte limit`);
      if (usize % this.pageSize !== 0) throw invalidTrace(this.src.path, at, `${this.label}: a chunk of ${usize} bytes is not a whole number of ${this.pageSize}-byte pages`);
      const data = this.src.read(at + 8, csize, "a compressed chunk");
      try {
        this.chunk = this.decompress(data, usize);
      } catch (e) {
        throw invalidTrace(this.src.path, at, `${this.label}: a chunk does not decompress (${this.compression}): ${(e as Error).message}`);
      }
      this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
      this.chunkAt = at;
      this.chunkNo++;
      this.idx = 0;
      this.pos = at + 8 + csize;
      this.chunksLeft--;
    }
  }
}

/** How to read the pages of one CPU of one buffer. */
export interface CpuStreamSpec {
  readonly src: FileSource;
  readonly bufferIndex: number;
  readonly cpu: number;
  readonly offset: number;
  readonly size: number;
  readonly pageSize: number;
  readonly header: PageHeaderLayout;
  readonly littleEndian: boolean;
  /** Set for compressed (v7) data. */
  readonly decompress: Decompressor | null;
  readonly compression: string | null;
  readonly pagesPerBlock: number;
  readonly label: string;
}

/**
 * The events of one CPU of one buffer, in file order (which is time order):
 * pages are walked record by record, time deltas, TIME_EXTEND and absolute
 * TIME_STAMP records applied, padding skipped, and a page whose commit flags
 * say events were lost yields a `lost` marker before its first event.
 *
 * After `advance()` returns true the current item is described by `ts`,
 * `lost`/`lostCount` or `buf`/`view`/`recStart`/`recLength` (valid until the
 * next `advance()`).
 */
export class CpuStream {
  readonly cpu: number;
  readonly bufferIndex: number;
  /** Timestamp of the current item: a number while exact (< 2^53), a bigint beyond. */
  ts: number | bigint = 0;
  /** The current item is a lost-events marker. */
  lost = false;
  /** Events lost before this page: the count the kernel stored, or null when it did not store one. */
  lostCount: number | bigint | null = null;
  buf: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.buf.buffer);
  recStart = 0;
  recLength = 0;

  private readonly pages: PageSource;
  private readonly le: boolean;
  private readonly hdr: PageHeaderLayout;
  private readonly pageSize: number;
  private readonly warn: Warn;
  private readonly path: string;
  // Walking state of the current page.
  private pos = 0;
  private end = 0;
  private pageWhere = 0;
  private pageLabel = "";
  private pageStart = 0;
  private pendingLost = false;
  private pendingLostCount: number | bigint | null = null;
  private inPage = false;
  private done = false;

  constructor(spec: CpuStreamSpec, warn: Warn) {
    this.cpu = spec.cpu;
    this.bufferIndex = spec.bufferIndex;
    this.le = spec.littleEndian;
    this.hdr = spec.header;
    this.pageSize = spec.pageSize;
    this.warn = warn;
    this.path = spec.src.path;
    this.pages = spec.decompress
      ? new ChunkPages(spec.src, spec.offset, spec.size, spec.pageSize, spec.littleEndian, spec.decompress, spec.compression ?? "?", spec.label)
      : new RawPages(spec.src, spec.offset, spec.size, spec.pageSize, spec.pagesPerBlock, warn, spec.label);
  }

  /** Loads the next page with data; false at the end of the CPU's data. */
  private loadPage(): boolean {
    for (;;) {
      let p: ReturnType<PageSource["next"]>;
      try {
        p = this.pages.next();
      } catch (e) {
        // A damaged chunk ends this CPU's data; the other CPUs are still read.
        if (!isClocksourceError(e, "INVALID_TRACE")) throw e;
        this.warn(`${e.message}; the rest of this CPU's data is skipped`);
        return false;
      }
      if (!p) return false;
      const v = p.view;
      const s = p.start;
      this.buf = p.buf;
      this.view = v;
      this.pageStart = s;
      this.pageWhere = p.where;
      this.pageLabel = p.label;
      const h = this.hdr;
      const tsLo = v.getUint32(s + h.timestampOffset + (this.le ? 0 : 4), this.le);
      const tsHi = v.getUint32(s + h.timestampOffset + (this.le ? 4 : 0), this.le);
      // The commit word is a kernel long; its flag bits live in the low 32 bits.
      const commitWordAt = s + h.commitOffset + (h.commitSize === 8 && !this.le ? 4 : 0);
      const commit = v.getUint32(commitWordAt, this.le);
      const size = commit & COMMIT_MASK;
      const dataStart = s + h.dataOffset;
      const room = this.pageSize - h.dataOffset;
      if (size > room) {
        this.warn(`${this.pageWhereText()}: ${this.pageLabel}: page commit size ${size} exceeds its ${room} bytes of data; page skipped`);
        continue;
      }
      this.ts = tsHi < 0x200000 ? tsHi * 0x100000000 + tsLo : (BigInt(tsHi) << 32n) | BigInt(tsLo);
      this.pos = dataStart;
      this.end = dataStart + size;
      if ((commit & MISSED_EVENTS) !== 0) {
        this.pendingLost = true;
        this.pendingLostCount = null;
        if ((commit & MISSED_STORED) !== 0) {
          const at = this.end;
          if (at + h.commitSize <= s + this.pageSize) {
            this.pendingLostCount =
              h.commitSize === 8 ? this.readU64Exact(at) : v.getUint32(at, this.le);
          }
        }
      }
      this.inPage = true;
      return true;
    }
  }

  private pageWhereText(): string {
    return `${this.path}: offset 0x${this.pageWhere.toString(16)}`;
  }

  private readU64Exact(at: number): number | bigint {
    const lo = this.view.getUint32(at + (this.le ? 0 : 4), this.le);
    const hi = this.view.getUint32(at + (this.le ? 4 : 0), this.le);
    return hi < 0x200000 ? hi * 0x100000000 + lo : (BigInt(hi) << 32n) | BigInt(lo);
  }

  private addDelta(d: number): void {
    const t = this.ts;
    if (typeof t === "number") {
      const s = t + d;
      if (s <= SAFE) this.ts = s;
      else this.ts = BigInt.asUintN(64, BigInt(t) + BigInt(d));
    } else {
      this.ts = BigInt.asUintN(64, t + BigInt(d));
    }
  }

  private pageBroken(what: string, at: number): void {
    this.warn(`${this.pageWhereText()}: ${this.pageLabel}: ${what} at byte ${at - this.pageStart} of the page; rest of the page skipped`);
    this.pos = this.end;
  }

  /** Moves to the next event (or lost marker). Returns false at the end of the CPU's data. */
  advance(): boolean {
    if (this.done) return false;
    const le = this.le;
    for (;;) {
      if (!this.inPage || this.pos >= this.end) {
        this.inPage = false;
        if (!this.loadPage()) {
          this.done = true;
          return false;
        }
        if (this.pendingLost) {
          this.pendingLost = false;
          this.lost = true;
          this.lostCount = this.pendingLostCount;
          return true;
        }
        continue;
      }
      this.lost = false;
      const p = this.pos;
      if (p + 4 > this.end) {
        this.pageBroken("a record header runs past the committed data", p);
        continue;
      }
      const w = this.view.getUint32(p, le);
      const typeLen = le ? w & 31 : w >>> 27;
      const delta = le ? w >>> 5 : w & 0x7ffffff;
      if (typeLen === 0) {
        if (p + 8 > this.end) {
          this.pageBroken("a record length runs past the committed data", p);
          continue;
        }
        const len = this.view.getUint32(p + 4, le);
        if (len < 4) {
          this.pageBroken(`a record length of ${len}`, p);
          continue;
        }
        const dataLen = len - 4;
        const next = p + 8 + ((dataLen + 3) & ~3);
        if (p + 8 + dataLen > this.end) {
          this.pageBroken(`a record of ${dataLen} bytes runs past the committed data`, p);
          continue;
        }
        this.addDelta(delta);
        this.recStart = p + 8;
        this.recLength = dataLen;
        this.pos = next;
        return true;
      }
      if (typeLen <= 28) {
        const dataLen = typeLen * 4;
        if (p + 4 + dataLen > this.end) {
          this.pageBroken(`a record of ${dataLen} bytes runs past the committed data`, p);
          continue;
        }
        this.addDelta(delta);
        this.recStart = p + 4;
        this.recLength = dataLen;
        this.pos = p + 4 + dataLen;
        return true;
      }
      if (typeLen === TYPE_PADDING) {
        // Padding (discarded events keep their delta): array[0] holds the length after the header word.
        if (p + 8 > this.end) {
          this.pos = this.end;
          continue;
        }
        const len = this.view.getUint32(p + 4, le);
        this.addDelta(delta);
        this.pos = len <= this.end - p - 4 ? p + 4 + len : this.end;
        continue;
      }
      if (p + 8 > this.end) {
        this.pageBroken("a time record runs past the committed data", p);
        continue;
      }
      const ext = this.view.getUint32(p + 4, le);
      if (typeLen === TYPE_TIME_EXTEND) {
        const d = ext * TWO27 + delta;
        if (d <= SAFE) this.addDelta(d);
        else {
          const t = this.ts;
          this.ts = BigInt.asUintN(64, (typeof t === "number" ? BigInt(t) : t) + ((BigInt(ext) << 27n) | BigInt(delta)));
        }
      } else {
        // TIME_STAMP: absolute, without the top 5 bits, which come from the running time.
        const t = this.ts;
        const msb = typeof t === "number" ? 0n : t & TS_MSB;
        const abs = ext * TWO27 + delta;
        if (msb === 0n && abs <= SAFE) this.ts = abs;
        else this.ts = msb | (BigInt(ext) << 27n) | BigInt(delta);
      }
      this.pos = p + 8;
    }
  }
}
