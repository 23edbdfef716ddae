import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  convertStream,
  isClocksourceError,
  parseU64,
  resolveMapping,
  U64_MAX,
  u64KernelsStatus,
  type ConvertStreamResult,
  type ResolvedMapping,
} from "../src/index.js";
import { build, registry, type Params, type TestEpoch } from "./support/test-codecs.js";

/** Collects what is written; optionally slow (each write acknowledged after a timer) with a small buffer. */
class Sink extends Writable {
  readonly parts: Buffer[] = [];
  acknowledged = 0;
  constructor(private readonly delayMs = -1) {
    super({ highWaterMark: delayMs >= 0 ? 16 * 1024 : 16 * 1024 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.parts.push(chunk);
    const ack = () => {
      this.acknowledged += chunk.length;
      done();
    };
    if (this.delayMs >= 0) setTimeout(ack, this.delayMs);
    else ack();
  }
  text(): Buffer {
    return Buffer.concat(this.parts);
  }
}

async function* chunks(bytes: Uint8Array, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= prev || c >= bytes.length) continue;
    yield bytes.subarray(prev, c);
    prev = c;
  }
  yield bytes.subarray(prev);
}

interface Outcome {
  readonly out: string;
  readonly error?: string;
  readonly result?: ConvertStreamResult;
}

const MAX_LINE = 64;

/**
 * The exact path written out independently: lines split at LF, a CR before
 * the LF dropped, each line parsed with parseU64 and converted with the
 * BigInt mapping, as `convert` has always done; what cannot be converted stops
 * with a line-numbered message or (skip) passes through byte for byte.
 */
function model(m: ResolvedMapping, direction: "forward" | "inverse", input: Buffer, skip: boolean): Outcome {
  const [fromName, toName] = direction === "forward" ? [m.file.from, m.file.to] : [m.file.to, m.file.from];
  const parts: Buffer[] = [];
  let skipped = 0;
  let firstSkipped = 0;
  let ambiguous = 0;
  let lines = 0;
  const segments: Buffer[] = [];
  for (let p = 0; p < input.length; ) {
    const lf = input.indexOf(10, p);
    segments.push(input.subarray(p, lf < 0 ? input.length : lf));
    p = lf < 0 ? input.length : lf + 1;
  }
  for (const [i, seg] of segments.entries()) {
    const n = i + 1;
    lines = n;
    let message: string | undefined;
    if (seg.length > MAX_LINE) {
      message = `line ${n}: longer than ${MAX_LINE} bytes (the longest line read); nothing after it was read`;
    } else {
      const text = seg.toString("utf8", 0, seg.at(-1) === 13 ? seg.length - 1 : seg.length);
      try {
        const v = parseU64(text, `${fromName} value`);
        try {
          const c = direction === "forward" ? m.forward(v) : m.inverse(v);
          if (c.ambiguous) ambiguous++;
          parts.push(Buffer.from(`${c.value}\n`));
          continue;
        } catch (e) {
          if (!isClocksourceError(e)) throw e;
          message = `line ${n}: ${v} cannot be converted to ${toName}: ${e.message}`;
        }
      } catch (e) {
        if (!isClocksourceError(e)) throw e;
        message ??= `line ${n}: ${e.message}`;
      }
    }
    if (!skip) return { out: Buffer.concat(parts).toString("latin1"), error: message };
    skipped++;
    if (firstSkipped === 0) firstSkipped = n;
    parts.push(seg, Buffer.from("\n"));
  }
  return { out: Buffer.concat(parts).toString("latin1"), result: { lines, skipped, firstSkipped, ambiguous } };
}

async function engine(m: ResolvedMapping, direction: "forward" | "inverse", input: Buffer, skip: boolean, cuts: readonly number[]): Promise<Outcome> {
  const sink = new Sink();
  try {
    const result = await convertStream(m, chunks(input, cuts), sink, { direction, skipInvalid: skip, maxLineBytes: MAX_LINE });
    return { out: sink.text().toString("latin1"), result };
  } catch (e) {
    if (!isClocksourceError(e)) throw e;
    return { out: sink.text().toString("latin1"), error: e.message };
  }
}

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
/** Lines of every form: plain values of every length, and each kind of line the fast path leaves to the exact one. */
const line: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: u64.map((v) => Buffer.from(v.toString())) },
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 1n << 56n }).map((v) => Buffer.from(v.toString())) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "0", "00", "007", "18446744073709551615", "18446744073709551616", "18446744073709551619", "18446744073709551620",
      "99999999999999999999", "100000000000000000000", "10000000000000000000", "9999999999999999999", "1844674407370955161",
      "0x1f", "0XfF", "0x", " 5", "5 ", "\t5", "5\r", "5\r6", "\r", "", "-5", "+5", "1e3", "１", "\uFEFF12",
      "123456789012345678901234567890", "a", "0000000000000000000000001",
    ).map((s) => Buffer.from(s)),
  },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff, 0x35]), Buffer.from([0x35, 0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from("9".repeat(MAX_LINE + 1))) },
);
const input = fc.record({ lines: fc.array(line, { maxLength: 60 }), finalNewline: fc.boolean() }).map(({ lines, finalNewline }) => {
  const parts: Buffer[] = [];
  lines.forEach((l, i) => parts.push(l, ...(i < lines.length - 1 || finalNewline ? [Buffer.from("\n")] : [])));
  return Buffer.concat(parts);
});

const params: fc.Arbitrary<Params> = fc.oneof(
  fc.record({ form: fc.constant("kvm" as const), mult: fc.oneof(fc.constantFrom(1n << 48n, (1n << 48n) + 4_503_599_627n, (1n << 32n) - 12345n), fc.bigInt({ min: 1n, max: U64_MAX })), shift: fc.constantFrom(0, 32, 48, 63), add: u64 }),
  fc.record({ form: fc.constant("offset" as const), add: u64, bits: fc.constantFrom(56, 64) }),
);
/** One open-ended epoch, or several with ranges that leave values outside and overlap (switch windows). */
const epochs: fc.Arbitrary<TestEpoch[]> = fc.oneof(
  params.map((p) => [{ params: p, from: null, length: null }]),
  fc.array(fc.record({ params, from: fc.option(fc.bigInt({ min: 0n, max: 1n << 62n }), { nil: null }), length: fc.option(fc.bigInt({ min: 1n, max: 1n << 63n }), { nil: null }) }), { minLength: 1, maxLength: 4 }),
);

const backend = u64KernelsStatus().ok ? "WebAssembly decimal and mapping kernels" : "exact path only (no WebAssembly)";

describe(`convertStream (${backend}) is byte-identical to the exact path`, () => {
  for (const kind of ["test-kernels", "test-each", "test-none"]) {
    it(`${kind}: every line form, random chunk boundaries, both directions, with and without skipping`, async () => {
      await fc.assert(
        fc.asyncProperty(epochs, input, fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), fc.boolean(), async (es, bytes, cutsRaw, reverse, skip) => {
          const m = resolveMapping(build(kind, es), registry);
          const direction = reverse ? "inverse" : "forward";
          const cuts = cutsRaw.map((c) => (bytes.length === 0 ? 0 : c % bytes.length));
          const want = model(m, direction, bytes, skip);
          const got = await engine(m, direction, bytes, skip, cuts);
          expect(got.error).toBe(want.error);
          expect(got.out).toBe(want.out);
          if (want.result) expect(got.result).toEqual(want.result);
        }),
        { numRuns: kind === "test-kernels" ? 600 : 150 },
      );
    });
  }

  it("blocks larger than the kernel's batch: 200 000 plain lines with odd ones between, one byte at a time at the seams", async () => {
    const m = resolveMapping(build("test-kernels", [{ params: { form: "kvm", mult: (1n << 48n) + 4_503_599_627n, shift: 48, add: 987654321n }, from: null, length: null }]), registry);
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) lines.push(i % 50_000 === 7 ? " 12" : String(BigInt(i) * 92_233_720_368_547n));
    const bytes = Buffer.from(`${lines.join("\n")}\n`);
    const cuts = [1, 2, 3, 65536, 65537, bytes.length >> 1, bytes.length - 1];
    for (const direction of ["forward", "inverse"] as const) {
      const got = await engine(m, direction, bytes, false, cuts);
      const want = model(m, direction, bytes, false);
      expect(got.error).toBe(want.error);
      expect(got.out === want.out).toBe(true);
    }
  });
});

describe("convertStream: bounded lines, flushed output, constant memory", () => {
  const m = resolveMapping(build("test-kernels", [{ params: { form: "offset", add: 1n, bits: 64 }, from: null, length: null }]), registry);

  it("a line over the bound is an error naming it, after every line before it is written", async () => {
    const sink = new Sink();
    const big = Buffer.alloc(3 * 1024 * 1024, 0x37);
    const input = (async function* () {
      yield Buffer.from("1\n2\n");
      for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
      yield Buffer.from("\n3\n");
    })();
    await expect(convertStream(m, input, sink, { direction: "forward" })).rejects.toThrow(/^line 3: longer than 1048576 bytes/);
    expect(sink.text().toString()).toBe("2\n3\n");
  });

  it("with skipInvalid, an over-long line streams through byte for byte and the conversion goes on", async () => {
    const sink = new Sink();
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 0x41);
    big[1000] = 0xff;
    big[2_000_000] = 13;
    const input = (async function* () {
      yield Buffer.from("1\n");
      for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
      yield Buffer.from("\r\n5");
    })();
    const r = await convertStream(m, input, sink, { direction: "forward", skipInvalid: true });
    expect(sink.text().equals(Buffer.concat([Buffer.from("2\n"), big, Buffer.from("\r\n6\n")]))).toBe(true);
    expect(r).toEqual({ lines: 3, skipped: 1, firstSkipped: 2, ambiguous: 0 });
  });

  it("holds a bounded amount with a slow reader: input is read only as fast as output is taken", async () => {
    const sink = new Sink(1);
    const total = 24 * 1024 * 1024;
    let produced = 0;
    let maxAhead = 0;
    const line = Buffer.from("123456789012345678\n");
    const block = Buffer.concat(Array.from({ length: 3449 }, () => line)); // ~64 KiB of whole lines
    const input = (async function* () {
      while (produced < total) {
        maxAhead = Math.max(maxAhead, produced - sink.acknowledged);
        produced += block.length;
        yield block;
      }
    })();
    const r = await convertStream(m, input, sink, { direction: "forward" });
    expect(r.lines).toBe((produced / line.length) | 0);
    expect(sink.acknowledged).toBe(produced);
    // What was read but not yet taken by the reader stays within a few output pieces, whatever the input size.
    expect(maxAhead).toBeLessThan(2 * 1024 * 1024);
  });

  it("a sink that fails while the converter waits for it rejects, never hangs", async () => {
    const sink = new Writable({
      highWaterMark: 1024,
      write(_c, _e, done) {
        setTimeout(() => done(new Error("EPIPE")), 5);
      },
    });
    sink.on("error", () => {});
    const input = (async function* () {
      for (let i = 0; i < 1000; i++) yield Buffer.from("1\n".repeat(10_000));
    })();
    await expect(convertStream(m, input, sink, { direction: "forward" })).rejects.toThrow(/cannot write output/);
  });
});
