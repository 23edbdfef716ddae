/**
 * `perf record -z`: the kernel's records are zstd-compressed into COMPRESSED
 * (and, in newer perf, COMPRESSED2) records. perf runs one compression stream
 * for the whole session and flushes it at each record, so every record's
 * payload continues the same stream, and a kernel record can straddle two of
 * them (perf compresses the two halves of a wrapped ring buffer separately).
 * This undoes that: one decompressor for the file, its output parsed into
 * records as it comes, an incomplete record's bytes carried to the next.
 */
import { Decompress } from "fzstd";

/** The most a zstd window may need here; perf's default level uses 512 KiB to a few MiB. */
const MAX_WINDOW = 64 << 20;

/** Why a zstd frame header is refused before the decompressor allocates its window, or null when it is fine. */
function frameHeaderProblem(b: Uint8Array): string | null {
  if (b.length < 6) return null;
  if (b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return "the compressed data does not start with a zstd frame";
  const flags = b[4] as number;
  const singleSegment = (flags >> 5) & 1;
  if (singleSegment) return null; // the window is the frame's content size, checked below by the decompressor's own limit
  const wd = b[5] as number;
  const base = 2 ** (10 + (wd >> 3));
  const window = base + (base / 8) * (wd & 7);
  return window > MAX_WINDOW ? `zstd window of ${window} bytes exceeds the ${MAX_WINDOW}-byte limit` : null;
}

/** Decompresses the file's COMPRESSED payloads and hands out the records inside. */
export class CompressedRecords {
  private z: Decompress | null = null;
  private buf = new Uint8Array(1 << 18);
  private view = new DataView(this.buf.buffer);
  private len = 0;
  /** Set once the stream cannot be followed any more (the rest of it is skipped). */
  broken: string | null = null;
  private started = false;

  constructor(
    private readonly le: boolean,
    /** Called for each complete record inside (its bytes are only valid during the call). */
    private readonly onRecord: (view: DataView, bytes: Uint8Array, pos: number, size: number) => void,
  ) {}

  /** Feeds one record's compressed payload. Returns why the stream broke, once, or null. */
  push(payload: Uint8Array): string | null {
    if (this.broken !== null) return null;
    if (!this.started) {
      this.started = true;
      const problem = frameHeaderProblem(payload);
      if (problem !== null) return (this.broken = problem);
      this.z = new Decompress((chunk) => this.take(chunk));
    }
    try {
      (this.z as Decompress).push(payload);
    } catch (e) {
      this.broken = `zstd: ${e instanceof Error ? e.message : String(e)}`;
    }
    return this.broken;
  }

  /** Bytes of an incomplete record left at the end (a truncated stream). */
  get leftover(): number {
    return this.len;
  }

  private take(chunk: Uint8Array): void {
    if (this.broken !== null) return;
    if (this.len + chunk.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    const v = this.view;
    let p = 0;
    while (this.len - p >= 8) {
      const size = v.getUint16(p + 6, this.le);
      if (size < 8) {
        this.broken = `a record inside the compressed data claims size ${size}`;
        this.len = 0;
        return;
      }
      if (this.len - p < size) break;
      this.onRecord(v, this.buf, p, size);
      p += size;
    }
    // Keep the incomplete record's bytes for the next chunk.
    if (p > 0) this.buf.copyWithin(0, p, this.len);
    this.len -= p;
  }
}
