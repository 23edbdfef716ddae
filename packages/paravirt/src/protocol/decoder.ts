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

/** First size of a payload buffer; it doubles up to the announced length as bytes arrive. */
const FIRST_BODY_BYTES = 64 * 1024;

/** A payload being received: its header fields and the bytes so far. */
interface Body {
  readonly version: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly length: number;
  buf: Buffer;
  fill: number;
}

/**
 * A streaming decoder: feed it chunks as they arrive, in any split, and it
 * returns whole frames. It never holds more than one frame's worth of bytes
 * (header + `maxPayloadBytes`) beyond the chunk being processed, refuses an
 * oversized length from the header alone, and tells a garbage prefix from a
 * frame by the magic as soon as its first byte arrives.
 *
 * The work is linear in the bytes pushed, however the stream is split: a
 * partial header (under 16 bytes) is the only thing re-joined with the next
 * chunk, and a payload is copied into a buffer that grows by doubling up to
 * the length its header announced — so memory follows the bytes actually
 * received, not the length a peer claims.
 */
export class FrameDecoder {
  /** A partial header (fewer than {@link HEADER_BYTES} bytes) awaiting the next chunk. */
  private pending: Buffer = Buffer.alloc(0);
  private body: Body | null = null;
  private stopped = false;
  private copied = 0;
  private max: number;
  private readonly resync: boolean;

  constructor(options: FrameDecoderOptions) {
    this.max = Math.min(options.maxPayloadBytes, ABSOLUTE_MAX_PAYLOAD);
    this.resync = options.resync ?? false;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.pending.length + (this.body ? HEADER_BYTES + this.body.fill : 0);
  }

  /** True when part of a frame has been received and the rest is awaited. */
  get midFrame(): boolean {
    return this.pending.length > 0 || this.body !== null;
  }

  /** True after a problem in non-resync mode: further input is ignored. */
  get failed(): boolean {
    return this.stopped;
  }

  /**
   * Bytes this decoder has copied so far (re-joined header bytes, payload
   * bytes, buffer growth). It stays within a small multiple of the bytes
   * pushed, whatever the split: a measure that the work is linear.
   */
  get bytesCopied(): number {
    return this.copied;
  }

  /**
   * Changes the payload limit (capped at {@link ABSOLUTE_MAX_PAYLOAD}) for
   * frames whose header has not been read yet; a frame under way keeps the
   * limit it was accepted with.
   */
  limitPayload(maxPayloadBytes: number): void {
    this.max = Math.min(maxPayloadBytes, ABSOLUTE_MAX_PAYLOAD);
  }

  /** Drops any partial frame and clears the failed state. */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.body = null;
    this.stopped = false;
  }

  /** Adds received bytes; returns the frames and problems they complete, in order. */
  push(chunk: Uint8Array): DecodeEvent[] {
    if (this.stopped || chunk.length === 0) return [];
    const events: DecodeEvent[] = [];
    let input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.body) {
      const used = this.fillBody(this.body, input, events);
      input = input.subarray(used);
      if (input.length === 0) return events;
    }
    let buf = input;
    if (this.pending.length > 0) {
      buf = Buffer.concat([this.pending, input]);
      this.copied += buf.length;
    }
    this.pending = Buffer.alloc(0);
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
      const version = buf.readUInt8(off + 4);
      const type = buf.readUInt8(off + 5);
      off += HEADER_BYTES;
      if (buf.length - off >= length) {
        // The whole payload is here: one copy, so the chunk is not kept alive by it.
        const payload = Buffer.from(buf.subarray(off, off + length));
        this.copied += length;
        events.push({ frame: { version, type, flags, seq, payload } });
        off += length;
        continue;
      }
      const body: Body = { version, type, flags, seq, length, buf: Buffer.allocUnsafe(Math.min(length, Math.max(FIRST_BODY_BYTES, buf.length - off))), fill: 0 };
      this.body = body;
      off += this.fillBody(body, buf.subarray(off), events);
    }
    if (off < buf.length) {
      // A partial header (< 16 bytes): copied so the chunk can be freed.
      this.pending = Buffer.from(buf.subarray(off));
      this.copied += this.pending.length;
    }
    return events;
  }

  /** Copies what `input` holds of the current payload; emits the frame when complete. Returns the bytes used. */
  private fillBody(body: Body, input: Buffer, events: DecodeEvent[]): number {
    const take = Math.min(input.length, body.length - body.fill);
    const need = body.fill + take;
    if (need > body.buf.length) {
      let size = body.buf.length;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, body.length));
      body.buf.copy(grown, 0, 0, body.fill);
      this.copied += body.fill;
      body.buf = grown;
    }
    input.copy(body.buf, body.fill, 0, take);
    this.copied += take;
    body.fill = need;
    if (body.fill === body.length) {
      this.body = null;
      const payload = body.buf.length === body.length ? body.buf : body.buf.subarray(0, body.length);
      events.push({ frame: { version: body.version, type: body.type, flags: body.flags, seq: body.seq, payload } });
    }
    return take;
  }

  private stop(events: DecodeEvent[]): DecodeEvent[] {
    this.stopped = true;
    this.pending = Buffer.alloc(0);
    this.body = null;
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
