/**
 * Payload layouts of the paravirtual time protocol, version 1 (docs/protocol.md).
 * All integers are big-endian. Every decoder checks the exact length and the
 * reserved fields, and throws {@link ProtocolViolation} on anything else.
 */

/** A payload that does not follow its layout. */
export class ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolViolation";
  }
}

function expectLength(p: Buffer, what: string, length: number): void {
  if (p.length !== length) throw new ProtocolViolation(`${what} payload must be ${length} bytes, got ${p.length}`);
}

function expectAtLeast(p: Buffer, what: string, length: number): void {
  if (p.length < length) throw new ProtocolViolation(`${what} payload must be at least ${length} bytes, got ${p.length}`);
}

/** Length of the nonces: the client's in HELLO, the agent's in WELCOME. */
export const CLIENT_NONCE_BYTES = 16;
export const SERVER_NONCE_BYTES = 32;
/** Length of an HMAC-SHA256 proof. */
export const PROOF_BYTES = 32;
/** Longest error message carried (UTF-8 bytes); longer ones are cut. */
export const MAX_ERROR_MESSAGE_BYTES = 512;

// --- HELLO (client → agent). Its layout is frozen across versions. ---------

export interface Hello {
  /** Lowest and highest protocol version the client speaks. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Largest payload the client accepts (bounds a mapping response). */
  readonly maxPayloadBytes: number;
  readonly clientNonce: Buffer;
}

export function encodeHello(h: Hello): Buffer {
  const b = Buffer.alloc(8 + CLIENT_NONCE_BYTES);
  b.writeUInt8(h.minVersion, 0);
  b.writeUInt8(h.maxVersion, 1);
  b.writeUInt32BE(h.maxPayloadBytes, 4);
  h.clientNonce.copy(b, 8, 0, CLIENT_NONCE_BYTES);
  return b;
}

/** Decodes HELLO. Later versions may append fields; version 1 reads the first 24 bytes. */
export function decodeHello(p: Buffer): Hello {
  expectAtLeast(p, "hello", 8 + CLIENT_NONCE_BYTES);
  const minVersion = p.readUInt8(0);
  const maxVersion = p.readUInt8(1);
  if (minVersion === 0 || maxVersion < minVersion) throw new ProtocolViolation(`hello: bad version range ${minVersion}..${maxVersion}`);
  if (p.readUInt16BE(2) !== 0) throw new ProtocolViolation("hello: reserved bytes must be 0");
  return { minVersion, maxVersion, maxPayloadBytes: p.readUInt32BE(4), clientNonce: Buffer.from(p.subarray(8, 8 + CLIENT_NONCE_BYTES)) };
}

// --- WELCOME (agent → client) -----------------------------------------------

/** The host clock the agent stamps with. */
export const CLOCK_ID = { monotonic: 1, tsc: 2 } as const;
export type HostClockKind = keyof typeof CLOCK_ID;

export const WELCOME_FLAG = { authRequired: 1, mappingAvailable: 2 } as const;

export interface Welcome {
  readonly version: number;
  readonly authRequired: boolean;
  readonly mappingAvailable: boolean;
  readonly clock: HostClockKind;
  /** Largest payload the agent accepts. */
  readonly maxPayloadBytes: number;
  /** Host clock ticks per second (1e9 for the monotonic clock). */
  readonly clockFrequencyHz: bigint;
  /** Random when authentication is required, zeros otherwise. */
  readonly serverNonce: Buffer;
  /** Requests per second one connection may send (0: no limit). */
  readonly rateLimitPerSecond: number;
}

const WELCOME_BYTES = 20 + SERVER_NONCE_BYTES;

export function encodeWelcome(w: Welcome): Buffer {
  const b = Buffer.alloc(WELCOME_BYTES);
  b.writeUInt8(w.version, 0);
  b.writeUInt8((w.authRequired ? WELCOME_FLAG.authRequired : 0) | (w.mappingAvailable ? WELCOME_FLAG.mappingAvailable : 0), 1);
  b.writeUInt8(CLOCK_ID[w.clock], 2);
  b.writeUInt32BE(w.maxPayloadBytes, 4);
  b.writeBigUInt64BE(w.clockFrequencyHz, 8);
  b.writeUInt32BE(w.rateLimitPerSecond, 16);
  w.serverNonce.copy(b, 20, 0, SERVER_NONCE_BYTES);
  return b;
}

export function decodeWelcome(p: Buffer): Welcome {
  expectLength(p, "welcome", WELCOME_BYTES);
  const flags = p.readUInt8(1);
  if ((flags & ~(WELCOME_FLAG.authRequired | WELCOME_FLAG.mappingAvailable)) !== 0) throw new ProtocolViolation(`welcome: unknown flags 0x${flags.toString(16)}`);
  const clockId = p.readUInt8(2);
  const clock = (Object.keys(CLOCK_ID) as HostClockKind[]).find((k) => CLOCK_ID[k] === clockId);
  if (!clock) throw new ProtocolViolation(`welcome: unknown clock id ${clockId}`);
  if (p.readUInt8(3) !== 0) throw new ProtocolViolation("welcome: reserved byte must be 0");
  const clockFrequencyHz = p.readBigUInt64BE(8);
  if (clockFrequencyHz === 0n) throw new ProtocolViolation("welcome: clock frequency 0");
  return {
    version: p.readUInt8(0),
    authRequired: (flags & WELCOME_FLAG.authRequired) !== 0,
    mappingAvailable: (flags & WELCOME_FLAG.mappingAvailable) !== 0,
    clock,
    maxPayloadBytes: p.readUInt32BE(4),
    clockFrequencyHz,
    rateLimitPerSecond: p.readUInt32BE(16),
    serverNonce: Buffer.from(p.subarray(20, 20 + SERVER_NONCE_BYTES)),
  };
}

// --- AUTH / AUTH_OK: one HMAC-SHA256 proof each ------------------------------

export function decodeProof(p: Buffer, what: string): Buffer {
  expectLength(p, what, PROOF_BYTES);
  return Buffer.from(p);
}

// --- TIME_REQUEST / TIME_RESPONSE --------------------------------------------

/** TIME_REQUEST: the client's send time t1 (its own clock, echoed back unchanged). */
export function encodeTimeRequest(t1: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(t1, 0);
  return b;
}

export function decodeTimeRequest(p: Buffer): bigint {
  expectLength(p, "time-request", 8);
  return p.readBigUInt64BE(0);
}

export interface TimeResponse {
  /** The client's t1, echoed. */
  readonly t1: bigint;
  /** Host clock when the request was received. */
  readonly hostReceive: bigint;
  /** Host clock just before the response was written. */
  readonly hostTransmit: bigint;
}

export function encodeTimeResponse(r: TimeResponse): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(r.t1, 0);
  b.writeBigUInt64BE(r.hostReceive, 8);
  b.writeBigUInt64BE(r.hostTransmit, 16);
  return b;
}

export function decodeTimeResponse(p: Buffer): TimeResponse {
  expectLength(p, "time-response", 24);
  const r = { t1: p.readBigUInt64BE(0), hostReceive: p.readBigUInt64BE(8), hostTransmit: p.readBigUInt64BE(16) };
  if (r.hostTransmit < r.hostReceive) throw new ProtocolViolation("time-response: host transmit time is before host receive time");
  return r;
}

// --- MAPPING_REQUEST / MAPPING_RESPONSE --------------------------------------

export const MAPPING_FORMAT = { json: 1 } as const;

export function decodeMappingRequest(p: Buffer): void {
  expectLength(p, "mapping-request", 0);
}

export function encodeMappingResponse(jsonText: string): Buffer {
  const text = Buffer.from(jsonText, "utf8");
  const b = Buffer.alloc(4 + text.length);
  b.writeUInt8(MAPPING_FORMAT.json, 0);
  text.copy(b, 4);
  return b;
}

export function decodeMappingResponse(p: Buffer): string {
  expectAtLeast(p, "mapping-response", 4);
  if (p.readUInt8(0) !== MAPPING_FORMAT.json) throw new ProtocolViolation(`mapping-response: unknown format ${p.readUInt8(0)}`);
  if (p.readUIntBE(1, 3) !== 0) throw new ProtocolViolation("mapping-response: reserved bytes must be 0");
  return new TextDecoder("utf-8", { fatal: true }).decode(p.subarray(4));
}

// --- ERROR (either direction). Its layout is frozen across versions. ----------

/** Error codes carried by an ERROR frame. */
export const ERROR_CODE = {
  badFrame: 1,
  versionUnsupported: 2,
  authRequired: 3,
  authFailed: 4,
  frameTooLarge: 5,
  rateLimited: 6,
  timeout: 7,
  noMapping: 8,
  unexpectedMessage: 9,
  busy: 10,
  internal: 11,
  shuttingDown: 12,
} as const;
export type ErrorCodeName = keyof typeof ERROR_CODE;

/** A code's name (`rate-limited`), or `code N` for one this version does not know. */
export function errorCodeName(code: number): string {
  const k = (Object.keys(ERROR_CODE) as ErrorCodeName[]).find((n) => ERROR_CODE[n] === code);
  return k ? k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) : `code ${code}`;
}

export interface ErrorMessage {
  readonly code: number;
  /** The sender closes (socket) or resets the session (serial line) after a fatal error. */
  readonly fatal: boolean;
  /** The versions the sender speaks, so a client can tell a version mismatch precisely. */
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly message: string;
}

export function encodeError(e: ErrorMessage): Buffer {
  let text = Buffer.from(e.message, "utf8");
  if (text.length > MAX_ERROR_MESSAGE_BYTES) text = Buffer.from(new TextDecoder().decode(text.subarray(0, MAX_ERROR_MESSAGE_BYTES)).replace(/\uFFFD$/, ""), "utf8");
  const b = Buffer.alloc(8 + text.length);
  b.writeUInt16BE(e.code, 0);
  b.writeUInt8(e.fatal ? 1 : 0, 2);
  b.writeUInt8(e.minVersion, 4);
  b.writeUInt8(e.maxVersion, 5);
  b.writeUInt16BE(text.length, 6);
  text.copy(b, 8);
  return b;
}

export function decodeError(p: Buffer): ErrorMessage {
  expectAtLeast(p, "error", 8);
  const n = p.readUInt16BE(6);
  if (p.length !== 8 + n) throw new ProtocolViolation(`error: message length ${n} does not match payload of ${p.length} bytes`);
  return {
    code: p.readUInt16BE(0),
    fatal: p.readUInt8(2) !== 0,
    minVersion: p.readUInt8(4),
    maxVersion: p.readUInt8(5),
    message: new TextDecoder("utf-8").decode(p.subarray(8)),
  };
}
