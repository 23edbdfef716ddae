/**
 * The streaming converter behind `clocksource convert`: bytes of decimal
 * lines in, bytes of converted lines out, in constant memory.
 *
 * Lines end at a line feed (a CR just before it belongs to the terminator; a
 * lone CR is part of the line). Input is cut into blocks of whole lines (a line
 * cut across two reads is put back together); each block is copied into the
 * kernel memory, where the plain lines (`0` or `[1-9][0-9]*` up to 2^64 − 1)
 * are parsed straight into u64s, converted in place by the mapping's batch
 * path ({@link regionConverter}) and formatted back to decimal, one output
 * buffer per block. Any other line — spaces, hex, CR LF, leading zeros,
 * 2^64 − 1 overflow, empty, invalid UTF-8, a JSON line — takes the exact path,
 * one value at a time with the BigInt mapping, and gives the same output,
 * messages and line numbers either way.
 *
 * Lines that cannot be converted stop the conversion with a line-numbered
 * `INVALID_INPUT` error, after everything converted before them has been
 * written — or, with `skipInvalid`, are passed through byte for byte
 * (terminator included; a last line without one gets a line feed, like every
 * output line). A line longer than `maxLineBytes` is an error naming it (or,
 * skipped, is streamed through without being held in memory).
 */
import { ClocksourceError, isClocksourceError } from "../errors.js";
import { parseU64, U64_MAX } from "../math/u64.js";
import { CELL, KERNEL_BATCH, KERNEL_INPUT_BYTES, REGION } from "../math/wasm-kernel-layout.js";
import { u64Kernels, type U64Kernels } from "../math/wasm-u64-kernels.js";
import { regionConverter, type BatchCounts, type RegionConverter } from "./batch-mapping.js";
import { ByteOutput, type ByteSink } from "./byte-output.js";
import { fieldValueSpans } from "./jsonl-field.js";
import type { Conversion, ResolvedMapping } from "./mapping-file.js";

export type { ByteSink, FileSink } from "./byte-output.js";

/** How to convert a stream of lines. */
export interface ConvertStreamOptions {
  /** `forward` converts the mapping's `from` values to `to`; `inverse` the other way. */
  readonly direction: "forward" | "inverse";
  /** Pass lines that cannot be converted through unchanged (counted) instead of stopping. */
  readonly skipInvalid?: boolean;
  /**
   * JSON lines: rewrite this top-level field of each line's object (a decimal
   * string or a non-negative integer), leaving every other byte of the line
   * as it was.
   */
  readonly jsonlField?: string;
  /** The longest line read, in bytes before its line feed (default {@link DEFAULT_MAX_LINE_BYTES}). */
  readonly maxLineBytes?: number;
  /**
   * Reuse output buffers once `output`'s write callback has run (no garbage
   * per piece). Only for a stream that is done with a chunk by then — a file,
   * pipe or socket stream such as `process.stdout` — not a Transform or
   * anything else that keeps the chunk.
   */
  readonly reuseOutputBuffers?: boolean;
}

/** What a conversion did. */
export interface ConvertStreamResult {
  /** Lines read. */
  readonly lines: number;
  /** Lines passed through unchanged (`skipInvalid`). */
  readonly skipped: number;
  /** The first of those (1-based), or 0. */
  readonly firstSkipped: number;
  /** Values in an epoch switch window (an earlier epoch covers them too). */
  readonly ambiguous: number;
}

/** Default line length bound: far above any timestamp or JSON event line, far below memory trouble. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const LF = 10;
const CR = 13;

function lineError(line: number, message: string): ClocksourceError {
  return new ClocksourceError("INVALID_INPUT", `line ${line}: ${message}`);
}

/** Value by value over the kernel's value region: for kinds without batch operations. */
class PerValueRegion implements RegionConverter {
  private readonly u64: BigUint64Array;
  private readonly i32: Int32Array;
  constructor(
    k: U64Kernels,
    private readonly one: (v: bigint) => Conversion,
  ) {
    this.u64 = new BigUint64Array(k.memory.buffer);
    this.i32 = new Int32Array(k.memory.buffer);
  }
  convertRegion(n: number): BatchCounts {
    const V = REGION.values >> 3;
    const S = REGION.status >> 2;
    let outside = 0;
    let ambiguous = 0;
    for (let i = 0; i < n; i++) {
      try {
        const c = this.one(this.u64[V + i] as bigint);
        this.u64[V + i] = c.value;
        this.i32[S + i] = c.epoch;
        if (c.ambiguous) ambiguous++;
      } catch (e) {
        if (!isClocksourceError(e, "OUT_OF_RANGE")) throw e;
        this.i32[S + i] = -1;
        outside++;
      }
    }
    return { outside, ambiguous };
  }
}

class StreamConverter {
  lines = 0;
  skipped = 0;
  firstSkipped = 0;
  ambiguous = 0;

  private readonly one: (v: bigint) => Conversion;
  private readonly fromName: string;
  private readonly toName: string;
  private readonly skip: boolean;
  private readonly field: string | undefined;
  private readonly maxLine: number;
  /** The fast path: kernels and the mapping's converter over their memory (null: every line the exact way). */
  private readonly k: U64Kernels | null;
  private readonly region: RegionConverter | null;
  private readonly mem: Uint8Array;
  private readonly u64: BigUint64Array;
  private readonly i32: Int32Array;
  /** The unfinished last line of the input so far. */
  private carry: Buffer[] = [];
  private carryLength = 0;
  /** Streaming a skipped over-long line through until its line feed. */
  private passing = false;

  constructor(
    mapping: ResolvedMapping,
    options: ConvertStreamOptions,
    private readonly out: ByteOutput,
  ) {
    const forward = options.direction === "forward";
    this.one = forward ? mapping.forward : mapping.inverse;
    [this.fromName, this.toName] = forward ? [mapping.file.from, mapping.file.to] : [mapping.file.to, mapping.file.from];
    this.skip = options.skipInvalid ?? false;
    this.field = options.jsonlField;
    this.maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.k = this.field === undefined ? u64Kernels() : null;
    this.region = this.k ? (regionConverter(mapping, options.direction) ?? new PerValueRegion(this.k, this.one)) : null;
    const buffer = this.k?.memory.buffer ?? new ArrayBuffer(8);
    this.mem = new Uint8Array(buffer);
    this.u64 = new BigUint64Array(buffer);
    this.i32 = new Int32Array(buffer);
  }

  /** Takes the next piece of input. */
  async push(chunk: Uint8Array): Promise<void> {
    let off = 0;
    if (this.passing) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        this.out.append(chunk);
        return this.out.settle();
      }
      this.out.append(chunk.subarray(0, lf + 1));
      this.passing = false;
      off = lf + 1;
    }
    if (this.carryLength > 0) {
      const lf = chunk.indexOf(LF, off);
      if (lf < 0) return this.hold(chunk.subarray(off));
      this.carry.push(Buffer.from(chunk.subarray(off, lf)));
      const line = Buffer.concat(this.carry, this.carryLength + lf - off);
      this.carry = [];
      this.carryLength = 0;
      this.exactLine(line, 0, line.length);
      off = lf + 1;
    }
    const last = chunk.lastIndexOf(LF);
    if (last >= off) {
      await this.completeLines(chunk, off, last + 1);
      off = last + 1;
    }
    if (off < chunk.length) await this.hold(chunk.subarray(off));
    return this.out.settle();
  }

  /** The input ended: a last line without a line feed is a line too. */
  async end(): Promise<void> {
    if (this.passing) {
      this.out.appendByte(LF);
      this.passing = false;
    } else if (this.carryLength > 0) {
      const line = Buffer.concat(this.carry, this.carryLength);
      this.carry = [];
      this.carryLength = 0;
      this.exactLine(line, 0, line.length);
    }
    return this.out.settle();
  }

  /** Keeps the start of an unfinished line, within the line length bound. */
  private async hold(bytes: Uint8Array): Promise<void> {
    if (this.carryLength + bytes.length <= this.maxLine) {
      this.carry.push(Buffer.from(bytes));
      this.carryLength += bytes.length;
      return;
    }
    this.tooLong();
    // Skipped: what arrived of it goes out as it is, the rest as it arrives.
    for (const c of this.carry) this.out.append(c);
    this.out.append(bytes);
    this.carry = [];
    this.carryLength = 0;
    this.passing = true;
    return this.out.settle();
  }

  /** A line over the bound: an error naming it, or (skipped) counted as passed through. */
  private tooLong(): void {
    this.lines++;
    if (!this.skip) throw lineError(this.lines, `longer than ${this.maxLine} bytes (the longest line read); nothing after it was read`);
    this.countSkipped(this.lines);
  }

  private countSkipped(line: number): void {
    this.skipped++;
    if (this.firstSkipped === 0) this.firstSkipped = line;
  }

  /** Whole lines: bytes [from, to) of `buf`, the last one a line feed. */
  private async completeLines(buf: Uint8Array, from: number, to: number): Promise<void> {
    if (!this.k) {
      for (let p = from; p < to; ) {
        const lf = buf.indexOf(LF, p);
        this.exactLine(buf, p, lf);
        p = lf + 1;
      }
      return;
    }
    for (let p = from; p < to; ) {
      let end = Math.min(to, p + KERNEL_INPUT_BYTES);
      if (end < to) {
        const lf = buf.lastIndexOf(LF, end - 1);
        if (lf < p) {
          // one line longer than the kernel's input region: never a plain number
          const e = buf.indexOf(LF, p);
          this.exactLine(buf, p, e);
          p = e + 1;
          continue;
        }
        end = lf + 1;
      }
      this.mem.set(buf.subarray(p, end), REGION.input);
      this.block(end - p);
      p = end;
      await this.out.settle();
    }
  }

  /** The lines in the kernel's input region [0, length), which ends with a line feed. */
  private block(length: number): void {
    const k = this.k as U64Kernels;
    const base = REGION.input;
    let q = 0;
    while (q < length) {
      const n = k.parseLines(base + q, base + length, REGION.values, KERNEL_BATCH);
      const stop = (this.i32[CELL.parseStop >> 2] as number) - base;
      if (n > 0) this.values(n);
      if (n === KERNEL_BATCH || stop >= length) {
        q = stop;
        continue;
      }
      // A line of another form: the exact path.
      const lf = this.mem.indexOf(LF, base + stop);
      this.exactLine(this.mem, base + stop, lf);
      q = lf - base + 1;
    }
  }

  /** n parsed values in the kernel's value region: convert, then format (or stop at the first that cannot be). */
  private values(n: number): void {
    const c = (this.region as RegionConverter).convertRegion(n);
    this.ambiguous += c.ambiguous;
    if (c.outside === 0) {
      this.format(0, n);
      this.lines += n;
      return;
    }
    const S = REGION.status >> 2;
    if (this.skip) {
      // A value no epoch covers is left as it was: formatting it reproduces its line exactly (plain lines are canonical).
      this.countSkipped(this.lines + this.i32.subarray(S, S + n).indexOf(-1) + 1);
      this.skipped += c.outside - 1;
      this.format(0, n);
      this.lines += n;
      return;
    }
    for (let start = 0; start < n; ) {
      const rel = this.i32.subarray(S + start, S + n).indexOf(-1);
      if (rel < 0) {
        this.format(start, n - start);
        this.lines += n - start;
        return;
      }
      this.format(start, rel);
      this.lines += rel + 1;
      // The exact path gives the message (and, should it convert the value after all, its result).
      const r = this.convertExact(this.u64[(REGION.values >> 3) + start + rel] as bigint);
      this.out.appendAscii(`${r.value}\n`);
      if (r.ambiguous) this.ambiguous++;
      start += rel + 1;
    }
  }

  private format(start: number, count: number): void {
    if (count === 0) return;
    const end = (this.k as U64Kernels).formatLines(REGION.values + 8 * start, count, REGION.output);
    this.out.append(this.mem.subarray(REGION.output, end));
  }

  private convertExact(v: bigint): Conversion {
    try {
      return this.one(v);
    } catch (e) {
      if (isClocksourceError(e)) throw lineError(this.lines, `${v} cannot be converted to ${this.toName}: ${e.message}`);
      throw e;
    }
  }

  /** One line the exact way: bytes [s, e) of `buf`, e at its line feed (or the end of the input). */
  private exactLine(buf: Uint8Array, s: number, e: number): void {
    if (e - s > this.maxLine) {
      this.tooLong();
      this.out.append(buf.subarray(s, e));
      this.out.appendByte(LF);
      return;
    }
    this.lines++;
    const bytes = Buffer.from(buf.buffer, buf.byteOffset + s, e - s);
    try {
      if (this.field === undefined) this.plainLine(bytes);
      else this.jsonLine(bytes, this.field);
    } catch (err) {
      if (!this.skip || !isClocksourceError(err)) throw err;
      this.countSkipped(this.lines);
      this.out.append(bytes);
      this.out.appendByte(LF);
    }
  }

  private plainLine(bytes: Buffer): void {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    const text = bytes.toString("utf8", 0, end);
    let v: bigint;
    try {
      v = parseU64(text, `${this.fromName} value`);
    } catch (e) {
      throw lineError(this.lines, (e as Error).message);
    }
    const c = this.convertExact(v);
    if (c.ambiguous) this.ambiguous++;
    this.out.appendAscii(`${c.value}\n`);
  }

  private jsonLine(bytes: Buffer, field: string): void {
    const n = this.lines;
    let obj: unknown;
    try {
      obj = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw lineError(n, "not a JSON value");
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw lineError(n, "not a JSON object");
    if (!Object.hasOwn(obj, field)) throw lineError(n, `no field ${JSON.stringify(field)}`);
    const spans = fieldValueSpans(bytes, bytes.length, field);
    if (!spans || spans.length === 0) throw lineError(n, `field ${JSON.stringify(field)} not found at the top level`);
    // JSON.parse kept the last of duplicated keys; which one the writer meant is anyone's guess.
    if (spans.length > 1) throw lineError(n, `field ${JSON.stringify(field)} appears ${spans.length} times`);
    const span = spans[0] as { start: number; end: number };
    // The value's own text, never a float: a number stays exact above 2^53 and 4.0000000000000001 is not 4.
    const rawText = bytes.toString("utf8", span.start, span.end);
    const quoted = rawText.startsWith('"');
    const digits = quoted ? rawText.slice(1, -1) : rawText;
    if (!/^(0|[1-9][0-9]*)$/.test(digits) || (quoted && !rawText.endsWith('"')) || BigInt(digits) > U64_MAX) {
      throw lineError(n, `field ${JSON.stringify(field)} is not a u64 (a decimal string or a non-negative integer, at most 2^64-1): ${rawText.slice(0, 40)}`);
    }
    const c = this.convertExact(BigInt(digits));
    if (c.ambiguous) this.ambiguous++;
    // Same JSON type as the input: a string stays a string; a number stays a number, with every digit exact.
    this.out.append(bytes.subarray(0, span.start));
    this.out.appendAscii(quoted ? `"${c.value}"` : c.value.toString());
    this.out.append(bytes.subarray(span.end));
    this.out.appendByte(LF);
  }
}

/**
 * Converts a stream of lines (see the module docs) and writes the result to
 * `output`, waiting only when the output is full. Each input chunk is used up
 * before the next is asked for, so an input may hand out one buffer again and
 * again. Resolves with the counts
 * once the input has ended and everything is handed to `output`.
 * @throws ClocksourceError `INVALID_INPUT` naming the line that cannot be converted
 *   (after writing every line before it); `IO_ERROR` when the output fails
 */
export async function convertStream(mapping: ResolvedMapping, input: AsyncIterable<Uint8Array | string>, output: ByteSink, options: ConvertStreamOptions): Promise<ConvertStreamResult> {
  if (options.direction !== "forward" && options.direction !== "inverse") throw new ClocksourceError("INVALID_ARGUMENT", `direction must be "forward" or "inverse", got ${JSON.stringify(options.direction)}`);
  const max = options.maxLineBytes;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) throw new ClocksourceError("INVALID_ARGUMENT", `maxLineBytes must be a positive integer, got ${max}`);
  const out = new ByteOutput(output, options.reuseOutputBuffers ?? false);
  const conv = new StreamConverter(mapping, options, out);
  try {
    for await (const chunk of input) {
      if (chunk.length > 0) await conv.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
    }
    await conv.end();
  } catch (e) {
    // What was converted before the failure is written before it is reported.
    out.flush();
    throw e;
  }
  return { lines: conv.lines, skipped: conv.skipped, firstSkipped: conv.firstSkipped, ambiguous: conv.ambiguous };
}
