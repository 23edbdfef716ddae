/**
 * Decimal text ↔ u64 kernels (WebAssembly, written with {@link I}): parsing
 * lines of digits straight into u64s, and formatting u64s back to lines with
 * a two-digit table. They handle only the plain form; whatever else a line
 * holds is left to the caller's exact path.
 */
import { CELL, REGION } from "./wasm-kernel-layout.js";
import { I, T, type WasmFunction } from "./wasm-assembler.js";

const LF = 10;
const ZERO = 48;

const ZEROS = 0x3030_3030_3030_3030n;
const HIGH_NIBBLES = 0xf0f0_f0f0_f0f0_f0f0n;
const SIXES = 0x0606_0606_0606_0606n;
type Code = (readonly number[])[];

/** Pushes a mask that is 0 exactly in the bytes of local `w` that are ASCII digits (bytes after the first non-digit may be wrong). */
const nonDigits = (w: number): Code => [
  I.get(w), I.i64Const(HIGH_NIBBLES), I.i64And, I.i64Const(ZEROS), I.i64Xor,
  // +6 carries out of a byte ≥ 0xFA, into the next one: only bytes after a non-digit can be misjudged
  I.get(w), I.i64Const(SIXES), I.i64Add, I.i64Const(HIGH_NIBBLES), I.i64And, I.i64Const(ZEROS), I.i64Xor,
  I.i64Or,
];

/**
 * Eight digit values, one per byte, the first the most significant (as they
 * lie in memory), to their number: pairs, then quads, then the eight, each a
 * multiply, shift and add over lanes that cannot overflow into each other.
 * Takes and leaves the value on the stack; uses local `t`.
 */
const eightDigits = (t: number): Code => [
  I.tee(t), I.i64Const(10n), I.i64Mul, I.get(t), I.i64Const(8n), I.i64ShrU, I.i64Add, I.i64Const(0x00ff_00ff_00ff_00ffn), I.i64And,
  I.tee(t), I.i64Const(100n), I.i64Mul, I.get(t), I.i64Const(16n), I.i64ShrU, I.i64Add, I.i64Const(0x0000_ffff_0000_ffffn), I.i64And,
  I.tee(t), I.i64Const(10000n), I.i64Mul, I.get(t), I.i64Const(32n), I.i64ShrU, I.i64Add, I.i64Const(0xffff_ffffn), I.i64And,
];

/** The first `d` (1..8) digit bytes of local `w` as a number (the bytes after them are shifted out). */
const leadingDigits = (w: number, d: (readonly number[])[], t: number): Code => [
  I.get(w), I.i64Const(ZEROS), I.i64Sub, I.i64Const(64n), ...d, I.i64Const(3n), I.i64Shl, I.i64Sub, I.i64Shl,
  ...eightDigits(t),
];

/**
 * parseLines(p, end, out, max) → n. Reads lines `[1-9][0-9]{0,19}\n` or
 * `0\n` from bytes [p, end) — which must end with a line feed, with 24
 * readable bytes after `end` — as u64s into `out`, up to `max` values. Stops
 * at the first line of any other form (leading zero, sign, space, CR, hex,
 * empty, more than 20 digits, above 2^64 − 1) and writes where it stopped
 * (the start of that line, or of the next unread line) to the `parseStop`
 * cell. Eight bytes at a time: a line's digits are found with a mask of its
 * non-digit bytes and converted with {@link eightDigits}.
 */
export function parseLinesFunction(): WasmFunction {
  // params: 0 p, 1 end, 2 out, 3 max; locals: 4 n, 5 len (i32); 6 w0, 7 w1, 8 w2, 9 m, 10 v, 11 t, 12 a (i64)
  const [p, end, out, max, n, len, w0, w1, w2, m, v, t, a] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const lenFrom = (base: number) => [I.get(m), I.i64Ctz, I.i32WrapI64, I.i32Const(3), I.i32ShrU, ...(base ? [I.i32Const(base), I.i32Add] : []), I.set(len)];
  const lenI64 = (minus: number) => [I.get(len), ...(minus ? [I.i32Const(minus), I.i32Sub] : []), I.i64ExtendI32U];
  return {
    name: "parseLines",
    params: [T.i32, T.i32, T.i32, T.i32],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64],
    body: [
      I.block, I.loop,
      I.get(n), I.get(max), I.i32GeU, I.brIf(1),
      I.get(p), I.get(end), I.i32GeU, I.brIf(1),
      // how many digits: the first non-digit byte in the first, second or third eight bytes
      I.get(p), I.i64LoadAt(0), I.set(w0),
      ...nonDigits(w0), I.tee(m), I.i64Eqz,
      I.if,
      I.get(p), I.i64LoadAt(8), I.set(w1),
      ...nonDigits(w1), I.tee(m), I.i64Eqz,
      I.if,
      I.get(p), I.i64LoadAt(16), I.set(w2),
      ...nonDigits(w2), I.tee(m), I.i64Eqz, I.brIf(3), // 24 digits or more
      ...lenFrom(16),
      I.else,
      ...lenFrom(8),
      I.end,
      I.else,
      ...lenFrom(0),
      I.end,
      // a line: 1..20 digits, then a line feed, no leading zero unless alone
      I.get(len), I.i32Eqz, I.brIf(1),
      I.get(len), I.i32Const(20), I.i32GtU, I.brIf(1),
      I.get(p), I.get(len), I.i32Add, I.i32Load8U(), I.i32Const(LF), I.i32Ne, I.brIf(1),
      I.get(w0), I.i64Const(0xffn), I.i64And, I.i64Const(BigInt(ZERO)), I.i64Eq, I.get(len), I.i32Const(1), I.i32GtU, I.i32And, I.brIf(1),
      I.get(len), I.i32Const(8), I.i32LeU,
      I.if,
      ...leadingDigits(w0, lenI64(0), t), I.set(v),
      I.else,
      I.get(w0), I.i64Const(ZEROS), I.i64Sub, ...eightDigits(t), I.set(a),
      I.get(len), I.i32Const(16), I.i32LeU,
      I.if,
      // a·10^(len−8) + the rest
      I.get(a), I.get(len), I.i32Const(8), I.i32Sub, I.i32Const(3), I.i32Shl, I.i64LoadAt(REGION.powersOf10), I.i64Mul,
      ...leadingDigits(w1, lenI64(8), t), I.i64Add, I.set(v),
      I.else,
      // h = the first 16 digits; v = h·10^(len−16) + the rest, below 2^64 for 20 digits only if h·10^4 + c is
      I.get(a), I.i64Const(100_000_000n), I.i64Mul, I.get(w1), I.i64Const(ZEROS), I.i64Sub, ...eightDigits(t), I.i64Add, I.set(a),
      ...leadingDigits(w2, lenI64(16), t), I.set(v),
      I.get(len), I.i32Const(20), I.i32Eq,
      I.if,
      I.get(a), I.i64Const(1_844_674_407_370_955n), I.i64GtU,
      I.get(a), I.i64Const(1_844_674_407_370_955n), I.i64Eq, I.get(v), I.i64Const(1615n), I.i64GtU, I.i32And,
      I.i32Or, I.brIf(4),
      I.end,
      I.get(a), I.get(len), I.i32Const(16), I.i32Sub, I.i32Const(3), I.i32Shl, I.i64LoadAt(REGION.powersOf10), I.i64Mul, I.get(v), I.i64Add, I.set(v),
      I.end,
      I.end,
      I.get(out), I.get(n), I.i32Const(3), I.i32Shl, I.i32Add, I.get(v), I.i64Store,
      I.get(n), I.i32Const(1), I.i32Add, I.set(n),
      I.get(p), I.get(len), I.i32Add, I.i32Const(1), I.i32Add, I.set(p),
      I.br(0),
      I.end, I.end,
      I.i32Const(CELL.parseStop), I.get(p), I.i32Store(),
      I.get(n),
    ],
  };
}

/**
 * Pushes the eight ASCII digits of local `g` (< 10^8, leading zeros
 * included) as one u64 whose first byte in memory is the most significant
 * digit: the number split into 4-digit lanes, then 2-digit, then 1-digit, each
 * split a multiply by a reciprocal and a shift. Uses local `y`.
 */
const eightAscii = (g: number, y: number): Code => [
  // y = (g / 10^4) | (g % 10^4) << 32, g / 10^4 = ⌊g·109951163 / 2^40⌋ (exact for g < 10^8: the
  // multiplier exceeds 2^40/10^4 by 0.23, which moves g/10^4 by under 2.1·10^-5, less than the 10^-4 gap)
  I.get(g), I.get(g), I.i64Const(109951163n), I.i64Mul, I.i64Const(40n), I.i64ShrU, I.tee(y), I.i64Const(10000n), I.i64Mul, I.i64Sub, I.i64Const(32n), I.i64Shl, I.get(y), I.i64Or, I.set(y),
  // per 32-bit lane: q = ⌊y·10486 / 2^20⌋ = ⌊y / 100⌋ (y < 10^4); lane = q | (y − 100q) << 16
  I.get(y), I.i64Const(10486n), I.i64Mul, I.i64Const(20n), I.i64ShrU, I.i64Const(0x0000_007f_0000_007fn), I.i64And, I.tee(g),
  I.get(y), I.get(g), I.i64Const(100n), I.i64Mul, I.i64Sub, I.i64Const(16n), I.i64Shl, I.i64Or, I.set(y),
  // per 16-bit lane: q = ⌊y·103 / 2^10⌋ = ⌊y / 10⌋ (y < 100); lane = q | (y − 10q) << 8
  I.get(y), I.i64Const(103n), I.i64Mul, I.i64Const(10n), I.i64ShrU, I.i64Const(0x000f_000f_000f_000fn), I.i64And, I.tee(g),
  I.get(y), I.get(g), I.i64Const(10n), I.i64Mul, I.i64Sub, I.i64Const(8n), I.i64Shl, I.i64Or,
  I.i64Const(ZEROS), I.i64Or,
];

/**
 * formatLines(vals, n, out) → end. Writes each of the n u64s at `vals` in
 * decimal followed by a line feed from `out` on (8 bytes of room needed past
 * the last); returns the byte after the last. A value is cut into groups of
 * eight digits (at most two 64-bit divisions by a constant), each written as
 * one 8-byte store; the leading group is shifted so that no leading zero is
 * written, and later stores overwrite what it wrote past its digits.
 */
export function formatLinesFunction(): WasmFunction {
  // params: 0 vals, 1 n, 2 out; locals: 3 end, 4 d, 5 groups (i32); 6 v, 7 lead, 8 mid, 9 low, 10 g, 11 y (i64)
  const [vals, n, out, end, d, groups, v, lead, mid, low, g, y] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const E8 = 100_000_000n;
  const group = (local: number): Code => [I.get(local), I.set(g), I.get(out), ...eightAscii(g, y), I.i64Store, I.get(out), I.i32Const(8), I.i32Add, I.set(out)];
  return {
    name: "formatLines",
    params: [T.i32, T.i32, T.i32],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i64, T.i64, T.i64, T.i64, T.i64, T.i64],
    body: [
      I.get(vals), I.get(n), I.i32Const(3), I.i32Shl, I.i32Add, I.set(end),
      I.block, I.loop,
      I.get(vals), I.get(end), I.i32GeU, I.brIf(1),
      // lead | mid | low, eight digits each: 1, 2 or 3 groups
      I.get(vals), I.i64Load, I.tee(v), I.i64Const(E8), I.i64LtU,
      I.if,
      I.get(v), I.set(lead),
      I.i32Const(1), I.set(groups),
      I.else,
      I.get(v), I.i64Const(E8 * E8), I.i64LtU,
      I.if,
      I.get(v), I.i64Const(E8), I.i64DivU, I.set(lead),
      I.get(v), I.get(lead), I.i64Const(E8), I.i64Mul, I.i64Sub, I.set(low),
      I.i32Const(2), I.set(groups),
      I.else,
      I.get(v), I.i64Const(E8 * E8), I.i64DivU, I.set(lead),
      I.get(v), I.get(lead), I.i64Const(E8 * E8), I.i64Mul, I.i64Sub, I.tee(v),
      I.i64Const(E8), I.i64DivU, I.set(mid),
      I.get(v), I.get(mid), I.i64Const(E8), I.i64Mul, I.i64Sub, I.set(low),
      I.i32Const(3), I.set(groups),
      I.end,
      I.end,
      // the leading group without its leading zeros: d = its digit count (1..8)
      I.i32Const(1),
      ...[10n, 100n, 1000n, 10000n, 100000n, 1000000n, 10000000n].flatMap((p) => [I.get(lead), I.i64Const(p), I.i64GeU, I.i32Add]),
      I.set(d),
      I.get(lead), I.set(g),
      I.get(out), ...eightAscii(g, y), I.i64Const(64n), I.get(d), I.i32Const(3), I.i32Shl, I.i64ExtendI32U, I.i64Sub, I.i64ShrU, I.i64Store,
      I.get(out), I.get(d), I.i32Add, I.set(out),
      I.get(groups), I.i32Const(3), I.i32Eq,
      I.if, ...group(mid), I.end,
      I.get(groups), I.i32Const(2), I.i32GeU,
      I.if, ...group(low), I.end,
      I.get(out), I.i32Const(LF), I.i32Store8(),
      I.get(out), I.i32Const(1), I.i32Add, I.set(out),
      I.get(vals), I.i32Const(8), I.i32Add, I.set(vals),
      I.br(0),
      I.end, I.end,
      I.get(out),
    ],
  };
}
