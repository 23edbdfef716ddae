import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ProtoBuffer } from "../src/writers/proto-buffer.js";

const EDGES = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 35n) - 1n, 1n << 35n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

describe("ProtoBuffer", () => {
  it("encodes every u64 exactly as @bufbuild/protobuf's writer does", () => {
    const check = (v: bigint) => {
      const ours = new ProtoBuffer(16);
      ours.varint64(v);
      const theirs = new BinaryWriter().uint64(v).finish();
      expect(Buffer.from(ours.take()).toString("hex")).toBe(Buffer.from(theirs).toString("hex"));
    };
    for (const v of EDGES) check(v);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => check(v)), { numRuns: 5000 });
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }), (v) => check(v)), { numRuns: 5000 });
  });

  it("encodes a stream of int64 values with repeats (the last large value's bytes are reused) as the standard writer does", () => {
    const pool = fc.constantFrom(-1n, -5n, 0n, 1n << 53n, (1n << 64n) - 1n, 0xffff_ffff_8100_0000n, 0xffff_ffff_8100_0001n, 1n << 63n, 42n, -(1n << 63n));
    fc.assert(
      fc.property(fc.array(fc.oneof(pool, fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n })), { maxLength: 40 }), (vs) => {
        const ours = new ProtoBuffer(8);
        const theirs = new BinaryWriter();
        for (const v of vs) {
          ours.varint64(v);
          if (v < 0n) theirs.int64(v);
          else theirs.uint64(v);
        }
        expect(Buffer.from(ours.take()).toString("hex")).toBe(Buffer.from(theirs.finish()).toString("hex"));
      }),
      { numRuns: 2000 },
    );
  });

  it("encodes numbers below 2^53 like their bigint, and negative int64 as two's complement", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const a = new ProtoBuffer(16);
        a.varint(n);
        expect(Buffer.from(a.take()).toString("hex")).toBe(Buffer.from(new BinaryWriter().uint64(BigInt(n)).finish()).toString("hex"));
      }),
      { numRuns: 5000 },
    );
    const neg = new ProtoBuffer(16);
    neg.varint64(-5n);
    expect(BigInt(new BinaryReader(neg.take()).int64())).toBe(-5n);
  });

  it("encodes any string as the standard writer does (ASCII fast path, UTF-8 beyond it, lone surrogates replaced)", () => {
    const check = (text: string) => {
      const ours = new ProtoBuffer(4);
      ours.string(7, text);
      const theirs = new BinaryWriter().tag(7, WireType.LengthDelimited).string(text).finish();
      // Same bytes apart from the length's encoding: ours is always 4 bytes; compare the decoded value and payload.
      const r = new BinaryReader(ours.take());
      expect(r.tag()).toEqual([7, WireType.LengthDelimited]);
      const payload = r.bytes();
      const t = new BinaryReader(theirs);
      t.tag();
      expect(Buffer.from(payload).toString("hex")).toBe(Buffer.from(t.bytes()).toString("hex"));
    };
    for (const text of ["", "a", "x".repeat(64), "x".repeat(65), `${"x".repeat(63)}é`, "é", "\ud800", "ab\udc00c"]) check(text);
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 80 }), check), { numRuns: 2000 });
  });

  it("writes nested messages and strings that a standard reader decodes, growing as needed", () => {
    const b = new ProtoBuffer(8);
    const m = b.begin(1);
    b.string(2, "héllo 🌍");
    b.tag(3, WireType.Varint);
    b.varint64(1n << 60n);
    const inner = b.begin(4);
    b.string(5, "x".repeat(100_000));
    b.end(inner);
    b.end(m);
    const r = new BinaryReader(b.take());
    const [f, wt] = r.tag();
    expect([f, wt]).toEqual([1, WireType.LengthDelimited]);
    const msg = new BinaryReader(r.bytes());
    expect(msg.tag()[0]).toBe(2);
    expect(msg.string()).toBe("héllo 🌍");
    expect(msg.tag()[0]).toBe(3);
    expect(BigInt(msg.uint64())).toBe(1n << 60n);
    expect(msg.tag()[0]).toBe(4);
    const sub = new BinaryReader(msg.bytes());
    expect(sub.tag()[0]).toBe(5);
    expect(sub.string()).toHaveLength(100_000);
  });
});
