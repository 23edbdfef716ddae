import { ABSOLUTE_MAX_PAYLOAD, HEADER_BYTES, MAGIC, type Frame } from "./frame.js";

/** Why bytes could not be framed. */
export type DecodeProblemCode = "bad-magic" | "frame-too-large" | "bad-flags";

/** A framing problem: the bytes are not a frame this decoder accepts. */
export interface DecodeProblem {
  readonly code: DecodeProblemCode;
  readonly message: string;
  /** The sequence number of the offending frame when its header was readable, else 0. */
  readonly seq: number;
}

export interface FrameDecoderOptions {
  /** Largest payload accepted; a header announcing more is a `frame-too-large` problem at once (before any payload is read). */
  readonly maxPayloadBytes: number;
  /**
   * After a problem, skip to the next magic and go on (a serial line, where the
   * stream cannot be closed and stale bytes may precede a new session), rather
   * than stop for good (a socket, which is then closed).
   */
  readonly resync?: boolean;
}

/** What one {@link FrameDecoder.push} produced, in stream order. */
export type DecodeEvent = { readonly frame: Frame; readonly problem?: undefined } | { readonly problem: DecodeProblem; readonly frame?: undefined };

/**
 * A streaming decoder: feed it chunks as they arrive, in any split, and it
 * returns whole frames. It never holds more than one frame's worth of bytes
 * (header + `maxPayloadBytes`) beyond the chunk being processed, refuses an
 * oversized length from the header alone, and tells a garbage prefix from a
 * frame by the magic as soon as its first byte arrives.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private stopped = false;
  private readonly max: number;
  private readonly resync: boolean;

  constructor(options: FrameDecoderOptions) {
    this.max = Math.min(options.maxPayloadBytes, ABSOLUTE_MAX_PAYLOAD);
    this.resync = options.resync ?? false;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.pending.length;
  }

  /** True when part of a frame has been received and the rest is awaited. */
  get midFrame(): boolean {
    return this.pending.length > 0;
  }

  /** True after a problem in non-resync mode: further input is ignored. */
  get failed(): boolean {
    return this.stopped;
  }

  /** Drops any partial frame and clears the failed state. */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.stopped = false;
  }

  /** Adds received bytes; returns the frames and problems they complete, in order. */
  push(chunk: Uint8Array): DecodeEvent[] {
    if (this.stopped || chunk.length === 0) return [];
    const buf = this.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([this.pending, chunk]);
    const events: DecodeEvent[] = [];
    let off = 0;
    while (off < buf.length) {
      const avail = buf.length - off;
      const magicLen = Math.min(avail, MAGIC.length);
      if (buf.compare(MAGIC, 0, magicLen, off, off + magicLen) !== 0) {
        events.push({ problem: { code: "bad-magic", message: `not a frame: expected magic "CSPV", got bytes ${buf.subarray(off, off + Math.min(avail, 8)).toString("hex")}`, seq: 0 } });
        if (!this.resync) return this.stop(events);
        off = this.nextMagic(buf, off + 1);
        continue;
      }
      if (avail < HEADER_BYTES) break;
      const flags = buf.readUInt16BE(off + 6);
      const seq = buf.readUInt32BE(off + 8);
      const length = buf.readUInt32BE(off + 12);
      if (length > this.max) {
        events.push({ problem: { code: "frame-too-large", message: `frame payload of ${length} bytes exceeds the limit of ${this.max}`, seq } });
        if (!this.resync) return this.stop(events);
        off = this.nextMagic(buf, off + HEADER_BYTES);
        continue;
      }
      if (flags !== 0) {
        events.push({ problem: { code: "bad-flags", message: `frame flags 0x${flags.toString(16)} are reserved and must be 0`, seq } });
        if (!this.resync) return this.stop(events);
        off = this.nextMagic(buf, off + HEADER_BYTES);
        continue;
      }
      if (avail < HEADER_BYTES + length) break;
      const payload = Buffer.from(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + length));
      events.push({ frame: { version: buf.readUInt8(off + 4), type: buf.readUInt8(off + 5), flags, seq, payload } });
      off += HEADER_BYTES + length;
    }
    // Copy the tail so a large chunk is not kept alive by a small remainder.
    this.pending = off >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    return events;
  }

  private stop(events: DecodeEvent[]): DecodeEvent[] {
    this.stopped = true;
    this.pending = Buffer.alloc(0);
    return events;
  }

  /** The offset of the next possible frame start at or after `from`: a full magic, or a magic prefix at the very end. */
  private nextMagic(buf: Buffer, from: number): number {
    const i = buf.indexOf(MAGIC, from);
    if (i >= 0) return i;
    // Keep a trailing partial magic: the rest may come in the next chunk.
    for (let k = Math.min(MAGIC.length - 1, buf.length - from); k > 0; k--) {
      if (buf.compare(MAGIC, 0, k, buf.length - k, buf.length) === 0) return buf.length - k;
    }
    return buf.length;
  }
}
