import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeError,
  decodeHello,
  decodeMappingResponse,
  decodeTimeRequest,
  decodeTimeResponse,
  decodeWelcome,
  encodeError,
  encodeFrame,
  encodeHello,
  encodeMappingResponse,
  encodeTimeRequest,
  encodeTimeResponse,
  encodeWelcome,
  FrameDecoder,
  HEADER_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MSG,
  ProtocolViolation,
  type DecodeEvent,
} from "../src/index.js";

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  version: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

/** Splits `buf` at the given cut points. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe("frames", () => {
  it("decode what was encoded, whatever the chunking, and hold at most one frame", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.seq, f.payload, f.version)));
        const dec = new FrameDecoder({ maxPayloadBytes: 300 });
        const events: DecodeEvent[] = [];
        for (const chunk of split(stream, cuts)) {
          events.push(...dec.push(chunk));
          expect(dec.buffered).toBeLessThanOrEqual(HEADER_BYTES + 300);
        }
        expect(events.every((e) => e.frame)).toBe(true);
        expect(events.map((e) => ({ type: e.frame?.type, seq: e.frame?.seq, version: e.frame?.version, payload: new Uint8Array(e.frame?.payload ?? []) }))).toEqual(
          frames.map((f) => ({ type: f.type, seq: f.seq, version: f.version, payload: new Uint8Array(f.payload) })),
        );
        expect(dec.midFrame).toBe(false);
      }),
    );
  });

  it("refuses a huge length from the header alone, before any payload", () => {
    const header = encodeFrame(MSG.timeRequest, 7, Buffer.alloc(0));
    header.writeUInt32BE(0xffffffff, 12);
    const dec = new FrameDecoder({ maxPayloadBytes: 4096 });
    const ev = dec.push(header);
    expect(ev).toHaveLength(1);
    expect(ev[0]?.problem?.code).toBe("frame-too-large");
    expect(ev[0]?.problem?.seq).toBe(7);
    expect(dec.failed).toBe(true);
    expect(dec.buffered).toBe(0);
    expect(dec.push(encodeFrame(MSG.hello, 1))).toEqual([]);
  });

  it("tells garbage from a frame at the first wrong byte", () => {
    const dec = new FrameDecoder({ maxPayloadBytes: 64 });
    const ev = dec.push(Buffer.from([0x43, 0x00]));
    expect(ev[0]?.problem?.code).toBe("bad-magic");
  });

  it("never throws and never holds more than one frame on random bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), fc.boolean(), (chunks, resync) => {
        const dec = new FrameDecoder({ maxPayloadBytes: 128, resync });
        for (const c of chunks) {
          dec.push(c);
          expect(dec.buffered).toBeLessThanOrEqual(HEADER_BYTES + 128 + 200);
        }
      }),
    );
  });

  it("in resync mode skips garbage (even a partial magic) and finds the next frame", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), frameArb, fc.array(fc.nat(), { maxLength: 6 }), (garbage, f, cuts) => {
        const g = Buffer.from(garbage);
        if (g[0] === 0x43) g[0] = 0; // make sure it starts as garbage
        const good = encodeFrame(f.type, f.seq, f.payload, f.version);
        const dec = new FrameDecoder({ maxPayloadBytes: 300, resync: true });
        const events: DecodeEvent[] = [];
        for (const chunk of split(Buffer.concat([g, Buffer.from("CSP"), good]), cuts)) events.push(...dec.push(chunk));
        const frames = events.filter((e) => e.frame).map((e) => e.frame);
        expect(events.some((e) => e.problem)).toBe(true);
        // The garbage may happen to contain a frame-looking sequence; the real frame is always found last.
        expect(frames[frames.length - 1]?.seq).toBe(f.seq);
        expect(new Uint8Array(frames[frames.length - 1]?.payload ?? [])).toEqual(new Uint8Array(f.payload));
      }),
    );
  });

  it("does linear work on a large frame trickled in small chunks (bytes copied stay within 3× the input)", () => {
    // 16 MiB in 256-byte chunks: re-joining the held bytes with every chunk
    // (the old way) copies ~2^35 bytes; growing one buffer copies < 3 × 2^24.
    const payload = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4096) payload.writeUInt32BE(i, i);
    const frame = encodeFrame(MSG.hello, 9, payload);
    for (const step of [256, 4099, 65536 + 3]) {
      const dec = new FrameDecoder({ maxPayloadBytes: payload.length });
      const events: DecodeEvent[] = [];
      for (let i = 0; i < frame.length; i += step) events.push(...dec.push(frame.subarray(i, i + step)));
      expect(events).toHaveLength(1);
      expect(events[0]?.frame?.seq).toBe(9);
      expect(events[0]?.frame?.payload.equals(payload)).toBe(true);
      expect(dec.midFrame).toBe(false);
      expect(dec.bytesCopied, `step ${step}`).toBeLessThanOrEqual(3 * frame.length);
    }
  });

  it("holds memory in step with the bytes received, not with the length a header claims", () => {
    const dec = new FrameDecoder({ maxPayloadBytes: 16 * 1024 * 1024 });
    const header = encodeFrame(MSG.hello, 1, Buffer.alloc(0));
    header.writeUInt32BE(16 * 1024 * 1024, 12);
    expect(dec.push(header)).toEqual([]);
    expect(dec.push(Buffer.alloc(100))).toEqual([]);
    expect(dec.midFrame).toBe(true);
    expect(dec.buffered).toBe(HEADER_BYTES + 100);
    expect(dec.bytesCopied).toBeLessThanOrEqual(HEADER_BYTES + 100);
  });

  it("rejects reserved flags", () => {
    const f = encodeFrame(MSG.hello, 1);
    f.writeUInt16BE(1, 6);
    expect(new FrameDecoder({ maxPayloadBytes: 64 }).push(f)[0]?.problem?.code).toBe("bad-flags");
  });
});

describe("messages", () => {
  it("round-trip", () => {
    const nonce = Buffer.alloc(16, 7);
    expect(decodeHello(encodeHello({ minVersion: 1, maxVersion: 3, maxPayloadBytes: 1234, clientNonce: nonce }))).toEqual({ minVersion: 1, maxVersion: 3, maxPayloadBytes: 1234, clientNonce: nonce });
    const w = { version: 1, authRequired: true, mappingAvailable: false, clock: "tsc" as const, maxPayloadBytes: 4096, clockFrequencyHz: 2_999_999_999n, serverNonce: Buffer.alloc(32, 9), rateLimitPerSecond: 77 };
    expect(decodeWelcome(encodeWelcome(w))).toEqual(w);
    expect(decodeTimeRequest(encodeTimeRequest(2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
    const r = { t1: 1n, hostReceive: 2n ** 63n, hostTransmit: 2n ** 64n - 1n };
    expect(decodeTimeResponse(encodeTimeResponse(r))).toEqual(r);
    expect(decodeMappingResponse(encodeMappingResponse('{"a":"é"}'))).toBe('{"a":"é"}');
    expect(decodeError(encodeError({ code: 6, fatal: true, minVersion: 1, maxVersion: 1, message: "slow down" }))).toEqual({ code: 6, fatal: true, minVersion: 1, maxVersion: 1, message: "slow down" });
  });

  it("are strict about lengths and reserved fields", () => {
    expect(() => decodeTimeRequest(Buffer.alloc(7))).toThrow(ProtocolViolation);
    expect(() => decodeTimeResponse(Buffer.alloc(25))).toThrow(ProtocolViolation);
    expect(() => decodeHello(Buffer.alloc(10))).toThrow(ProtocolViolation);
    expect(() => decodeHello(Buffer.concat([Buffer.from([2, 1]), Buffer.alloc(22)]))).toThrow(/version range/);
    const w = encodeWelcome({ version: 1, authRequired: false, mappingAvailable: false, clock: "monotonic", maxPayloadBytes: 1, clockFrequencyHz: 1n, serverNonce: Buffer.alloc(32), rateLimitPerSecond: 0 });
    w.writeUInt8(9, 2);
    expect(() => decodeWelcome(w)).toThrow(/clock id/);
    const bad = encodeTimeResponse({ t1: 0n, hostReceive: 5n, hostTransmit: 4n });
    expect(() => decodeTimeResponse(bad)).toThrow(/before host receive/);
    const e = encodeError({ code: 1, fatal: false, minVersion: 1, maxVersion: 1, message: "x" });
    expect(() => decodeError(Buffer.concat([e, Buffer.alloc(1)]))).toThrow(ProtocolViolation);
    expect(() => decodeMappingResponse(Buffer.from([1, 0, 0, 0, 0xff]))).toThrow();
  });

  it("cut long error messages at a character boundary", () => {
    const long = "é".repeat(MAX_ERROR_MESSAGE_BYTES);
    const back = decodeError(encodeError({ code: 1, fatal: false, minVersion: 1, maxVersion: 1, message: long })).message;
    expect(Buffer.byteLength(back)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(back).toBe("é".repeat(MAX_ERROR_MESSAGE_BYTES / 2));
  });
});
