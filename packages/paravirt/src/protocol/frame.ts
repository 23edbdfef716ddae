/**
 * The frame layer of the paravirtual time protocol (docs/protocol.md).
 *
 * Every frame is a 16-byte header followed by a payload. The header layout is
 * frozen across protocol versions, so a peer can always read the version and
 * type of a frame it does not understand and refuse it politely.
 *
 * ```text
 * offset size field
 *  0     4    magic "CSPV" (0x43 0x53 0x50 0x56)
 *  4     1    version (payload layout version; 1)
 *  5     1    type (MSG)
 *  6     2    flags, big-endian; 0 in version 1
 *  8     4    sequence number, big-endian u32 (a response echoes its request's)
 * 12     4    payload length, big-endian u32
 * 16     n    payload
 * ```
 */

/** The four magic bytes that start every frame: ASCII `CSPV`. */
export const MAGIC = Buffer.from("CSPV", "ascii");
/** Size of the fixed frame header. */
export const HEADER_BYTES = 16;
/** The protocol versions this implementation speaks. */
export const PROTOCOL_VERSION = { min: 1, max: 1 } as const;
/** The largest payload any peer may announce; a length above this is garbage, whatever the limits. */
export const ABSOLUTE_MAX_PAYLOAD = 16 * 1024 * 1024;

/** Message types (the header's `type` byte). */
export const MSG = {
  hello: 1,
  welcome: 2,
  auth: 3,
  authOk: 4,
  timeRequest: 5,
  timeResponse: 6,
  mappingRequest: 7,
  mappingResponse: 8,
  error: 15,
} as const;
export type MessageType = (typeof MSG)[keyof typeof MSG];

const NAMES = new Map<number, string>(Object.entries(MSG).map(([k, v]) => [v, k]));

/** A type byte's name for logs (`time-request`, or `type 0x42`). */
export function messageName(type: number): string {
  const n = NAMES.get(type);
  return n ? n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) : `type 0x${type.toString(16).padStart(2, "0")}`;
}

/** One decoded frame. */
export interface Frame {
  readonly version: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly payload: Buffer;
}

/** Encodes a frame: header plus payload in one buffer. */
export function encodeFrame(type: number, seq: number, payload: Uint8Array = Buffer.alloc(0), version: number = PROTOCOL_VERSION.max): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(out, 0);
  out.writeUInt8(version, 4);
  out.writeUInt8(type, 5);
  out.writeUInt16BE(0, 6);
  out.writeUInt32BE(seq >>> 0, 8);
  out.writeUInt32BE(payload.length, 12);
  out.set(payload, HEADER_BYTES);
  return out;
}
