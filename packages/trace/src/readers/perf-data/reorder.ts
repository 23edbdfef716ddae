/**
 * Puts perf.data records in time order within the bound perf record gives.
 *
 * perf record drains every CPU's buffer in turn and writes FINISHED_ROUND after
 * each pass. A record written in pass N+1 can be older than the newest record
 * of pass N, but never older than anything written before pass N began. So at
 * each FINISHED_ROUND the records up to the newest timestamp seen at the
 * *previous* FINISHED_ROUND are final and can go out, the rest wait — the rule
 * `perf script` follows too, so both print the same order. Ties go by CPU,
 * then file order.
 *
 * What waits is the records' bytes (copied into an arena of pages) and a
 * typed-array index (timestamp halves, CPU, where the bytes are), not decoded
 * events: the reader decodes a record only when it goes out, batch by batch,
 * so the garbage collector never carries a round's worth of event objects.
 */

import { sortRuns } from "../../model/run-merge-sort.js";

/** Arena page size; a record (at most 64 KiB) never straddles two pages. */
const PAGE = 1 << 22;

/** Append-only bytes addressed by a position that only grows; pages below what is still referenced are dropped. */
export class Arena {
  private pages: Uint8Array[] = [];
  private views: DataView[] = [];
  /** Page number of `pages[0]`. */
  private first = 0;
  /** Next write position. */
  pos = 0;
  /** Dropped pages kept for reuse: allocating (and zeroing) fresh ones costs page faults. */
  private readonly spare: Uint8Array[] = [];

  /** Copies `size` bytes of `src` at `off`; returns their position. */
  add(src: Uint8Array, off: number, size: number): number {
    let at = this.pos;
    const inPage = at % PAGE;
    if (inPage + size > PAGE) at += PAGE - inPage;
    const pageNo = Math.floor(at / PAGE);
    if (this.pages.length === 0) this.first = pageNo;
    while (pageNo >= this.first + this.pages.length) {
      const page = this.spare.pop() ?? new Uint8Array(PAGE);
      this.pages.push(page);
      this.views.push(new DataView(page.buffer));
    }
    const b = this.pages[pageNo - this.first] as Uint8Array;
    // Measured: a `set` from a subarray beats a byte loop already at ~100-byte records.
    b.set(src.subarray(off, off + size), at - pageNo * PAGE);
    this.pos = at + size;
    return at;
  }

  bytesAt(pos: number): Uint8Array {
    return this.pages[Math.floor(pos / PAGE) - this.first] as Uint8Array;
  }

  viewAt(pos: number): DataView {
    return this.views[Math.floor(pos / PAGE) - this.first] as DataView;
  }

  /** Offset of `pos` inside its page. */
  static local(pos: number): number {
    return pos % PAGE;
  }

  /** Drops the pages wholly below `pos`, keeping a few for reuse. */
  releaseBelow(pos: number): void {
    const keepFrom = Math.floor(pos / PAGE);
    // The page being written to always stays.
    while (this.first < keepFrom && this.pages.length > 1) {
      const page = this.pages.shift() as Uint8Array;
      if (this.spare.length < 4) this.spare.push(page);
      this.views.shift();
      this.first++;
    }
  }

  /** Bytes held in pages. */
  get held(): number {
    return this.pages.length * PAGE;
  }
}

/** The index of waiting records, in parallel typed arrays. */
class Index {
  n = 0;
  hi: Uint32Array;
  lo: Uint32Array;
  cpu: Int32Array;
  pos: Float64Array;
  sid: Int32Array;
  fileOff: Float64Array;

  constructor(cap: number) {
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.cpu = new Int32Array(cap);
    this.pos = new Float64Array(cap);
    this.sid = new Int32Array(cap);
    this.fileOff = new Float64Array(cap);
  }

  reserve(cap: number): void {
    if (cap <= this.hi.length) return;
    const n = Math.max(cap, this.hi.length * 2);
    const grow = <T extends Uint32Array | Int32Array | Float64Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(n);
      b.set(a.subarray(0, this.n));
      return b;
    };
    this.hi = grow(this.hi, Uint32Array);
    this.lo = grow(this.lo, Uint32Array);
    this.cpu = grow(this.cpu, Int32Array);
    this.pos = grow(this.pos, Float64Array);
    this.sid = grow(this.sid, Int32Array);
    this.fileOff = grow(this.fileOff, Float64Array);
  }

  /** Indices 0..n-1 sorted by (time, CPU, arrival). */
  order(): Uint32Array {
    const n = this.n;
    const { hi, lo, cpu } = this;
    const perm = new Uint32Array(n);
    if (n === 0) return perm;
    let minHi = hi[0] as number;
    let minLo = lo[0] as number;
    let maxHi = minHi;
    let maxLo = minLo;
    let maxCpu = 0;
    let minCpu = 0;
    for (let i = 0; i < n; i++) {
      const h = hi[i] as number;
      const l = lo[i] as number;
      if (h < minHi || (h === minHi && l < minLo)) {
        minHi = h;
        minLo = l;
      }
      if (h > maxHi || (h === maxHi && l > maxLo)) {
        maxHi = h;
        maxLo = l;
      }
      const c = (cpu[i] as number) + 1;
      if (c > maxCpu) maxCpu = c;
      if (c < minCpu) minCpu = c;
    }
    const idxBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
    const cpuBits = Math.max(1, Math.ceil(Math.log2(maxCpu + 1)));
    const span = (maxHi - minHi) * 4294967296 + (maxLo - minLo);
    if (minCpu >= 0 && span < 2 ** (53 - idxBits - cpuBits)) {
      // (time from the first, CPU, arrival) packed exactly into one double: the engine's numeric sort, no callback.
      const keys = new Float64Array(n);
      const cpuMul = 2 ** cpuBits;
      const idxMul = 2 ** idxBits;
      for (let i = 0; i < n; i++) {
        const delta = ((hi[i] as number) - minHi) * 4294967296 + ((lo[i] as number) - minLo);
        keys[i] = (delta * cpuMul + (cpu[i] as number) + 1) * idxMul + i;
      }
      // Records arrive as per-CPU runs already in time order: merging them beats a full sort.
      const sorted = sortRuns(keys);
      for (let i = 0; i < n; i++) perm[i] = (sorted[i] as number) % idxMul;
      return perm;
    }
    for (let i = 0; i < n; i++) perm[i] = i;
    perm.sort((a, b) => (hi[a] as number) - (hi[b] as number) || (lo[a] as number) - (lo[b] as number) || (cpu[a] as number) - (cpu[b] as number) || a - b);
    return perm;
  }
}

/** Records that may go out, in order: arena positions, streams and file offsets of `[from, to)`. */
export interface Ready {
  readonly pos: Float64Array;
  readonly sid: Int32Array;
  readonly fileOff: Float64Array;
  from: number;
  readonly to: number;
}

export class RoundQueue {
  readonly arena = new Arena();
  private index = new Index(1024);
  private spare = new Index(1024);
  private readonly ready: Ready[] = [];
  private nextHi = 0;
  private nextLo = 0;
  private maxHi = 0;
  private maxLo = 0;
  private lastHi = 0;
  private lastLo = 0;
  /** Lowest arena position a waiting record uses. */
  private pendingMin = Infinity;
  /** Records that arrived older than a record already out (perf's "out of order" events). */
  unordered = 0;
  /** Times the queue outgrew its bound and let half go early. */
  overflows = 0;

  constructor(
    /** Most records held at once; past it the older half goes out early (order may then break). */
    readonly limit = 1 << 20,
    /** Most arena bytes held at once, likewise. */
    readonly byteLimit = 128 << 20,
  ) {}

  /** Records waiting. */
  get size(): number {
    return this.index.n;
  }

  /** Queues a record (timestamp split into 32-bit halves; never 0: untimed records go out at once). */
  push(src: Uint8Array, off: number, size: number, hi: number, lo: number, cpu: number, sid: number, fileOff: number): void {
    if (hi < this.lastHi || (hi === this.lastHi && lo < this.lastLo)) this.unordered++;
    if (hi > this.maxHi || (hi === this.maxHi && lo > this.maxLo)) {
      this.maxHi = hi;
      this.maxLo = lo;
    }
    const ix = this.index;
    if (ix.n === ix.hi.length) ix.reserve(ix.n + 1);
    if (this.arena.pos % PAGE === 0 || (this.arena.pos % PAGE) + size > PAGE) this.release();
    const pos = this.arena.add(src, off, size);
    if (pos < this.pendingMin) this.pendingMin = pos;
    const i = ix.n++;
    ix.hi[i] = hi;
    ix.lo[i] = lo;
    ix.cpu[i] = cpu;
    ix.pos[i] = pos;
    ix.sid[i] = sid;
    ix.fileOff[i] = fileOff;
    if (ix.n > this.limit || this.arena.held > this.byteLimit) {
      this.overflows++;
      this.flush(ix.order(), ix.n >> 1);
    }
  }

  /** FINISHED_ROUND. */
  round(): void {
    const ix = this.index;
    if (ix.n > 0) {
      const perm = ix.order();
      const { hi, lo } = ix;
      const H = this.nextHi;
      const L = this.nextLo;
      // First index whose time is above the bound.
      let a = 0;
      let b = perm.length;
      while (a < b) {
        const m = (a + b) >> 1;
        const i = perm[m] as number;
        const h = hi[i] as number;
        if (h < H || (h === H && (lo[i] as number) <= L)) a = m + 1;
        else b = m;
      }
      this.flush(perm, a);
    }
    this.nextHi = this.maxHi;
    this.nextLo = this.maxLo;
  }

  /** End of the stream: everything goes. */
  finish(): void {
    if (this.index.n > 0) this.flush(this.index.order(), this.index.n);
  }

  /** The next run of records that may go out, or undefined. The caller advances `from`. */
  peekReady(): Ready | undefined {
    while (this.ready.length > 0) {
      const r = this.ready[0] as Ready;
      if (r.from < r.to) return r;
      this.ready.shift();
    }
    return undefined;
  }

  /** Drops arena pages no waiting or ready record uses any more. */
  private release(): void {
    let floor = this.pendingMin;
    for (const r of this.ready) for (let j = r.from; j < r.to; j++) floor = Math.min(floor, r.pos[j] as number);
    this.arena.releaseBelow(Math.min(floor, this.arena.pos));
  }

  /** Moves the first `k` records of `perm` to the ready list; the rest stay, in sorted order. */
  private flush(perm: Uint32Array, k: number): void {
    if (k === 0) return;
    const ix = this.index;
    const last = perm[k - 1] as number;
    this.lastHi = ix.hi[last] as number;
    this.lastLo = ix.lo[last] as number;
    const r: Ready = { pos: new Float64Array(k), sid: new Int32Array(k), fileOff: new Float64Array(k), from: 0, to: k };
    for (let j = 0; j < k; j++) {
      const i = perm[j] as number;
      r.pos[j] = ix.pos[i] as number;
      r.sid[j] = ix.sid[i] as number;
      r.fileOff[j] = ix.fileOff[i] as number;
    }
    this.ready.push(r);
    const rest = perm.length - k;
    const nx = this.spare;
    nx.n = 0;
    nx.reserve(Math.max(rest, 1024));
    let min = Infinity;
    for (let j = k; j < perm.length; j++) {
      const i = perm[j] as number;
      const d = nx.n++;
      nx.hi[d] = ix.hi[i] as number;
      nx.lo[d] = ix.lo[i] as number;
      nx.cpu[d] = ix.cpu[i] as number;
      const p = ix.pos[i] as number;
      nx.pos[d] = p;
      if (p < min) min = p;
      nx.sid[d] = ix.sid[i] as number;
      nx.fileOff[d] = ix.fileOff[i] as number;
    }
    this.pendingMin = min;
    this.spare = ix;
    this.index = nx;
  }
}
