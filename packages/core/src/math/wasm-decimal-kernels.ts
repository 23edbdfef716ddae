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
/** ⌊(2^64 − 1) / 10⌋: the largest 19-digit prefix of a 20-digit u64. */
const U64_MAX_DIV_10 = 1844674407370955161n;

/**
 * parseLines(p, end, out, max) → n. Reads lines `[1-9][0-9]{0,19}\n` or
 * `0\n` from bytes [p, end) — which must end with a line feed — as u64s into
 * `out`, up to `max` values. Stops at the first line of any other form
 * (leading zero, sign, space, CR, hex, empty, more than 20 digits, above
 * 2^64 − 1) and writes where it stopped (the start of that line, or of the
 * next unread line) to the `parseStop` cell.
 */
export function parseLinesFunction(): WasmFunction {
  // params: 0 p, 1 end, 2 out, 3 max; locals: 4 n, 5 start, 6 c, 7 nd, 8 v (i64), 9 prev (i64)
  const [p, end, out, max, n, start, c, nd, v, prev] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  return {
    name: "parseLines",
    params: [T.i32, T.i32, T.i32, T.i32],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i32, T.i64, T.i64],
    body: [
      I.block, I.loop,
      I.get(p), I.set(start),
      I.get(n), I.get(max), I.i32GeU, I.brIf(1),
      I.get(p), I.get(end), I.i32GeU, I.brIf(1),
      I.get(p), I.i32Load8U(), I.tee(c), I.i32Const(ZERO), I.i32Eq,
      I.if,
      // "0" alone; a leading zero (or "0x") is left to the exact path
      I.get(p), I.i32Load8U(1), I.i32Const(LF), I.i32Ne, I.brIf(2),
      I.i64Const(0n), I.set(v),
      I.get(p), I.i32Const(2), I.i32Add, I.set(p),
      I.else,
      I.get(c), I.i32Const(ZERO + 1), I.i32Sub, I.i32Const(8), I.i32GtU, I.brIf(2),
      I.get(c), I.i32Const(ZERO), I.i32Sub, I.i64ExtendI32U, I.set(v),
      I.get(p), I.i32Const(1), I.i32Add, I.set(p),
      I.block, I.loop,
      I.get(p), I.i32Load8U(), I.i32Const(ZERO), I.i32Sub, I.tee(c), I.i32Const(9), I.i32GtU, I.brIf(1),
      I.get(v), I.set(prev),
      I.get(v), I.i64Const(10n), I.i64Mul, I.get(c), I.i64ExtendI32U, I.i64Add, I.set(v),
      I.get(p), I.i32Const(1), I.i32Add, I.set(p),
      I.br(0),
      I.end, I.end,
      // the first byte that is not a digit must end the line
      I.get(c), I.i32Const(LF - ZERO), I.i32Ne, I.brIf(2),
      I.get(p), I.get(start), I.i32Sub, I.tee(nd), I.i32Const(20), I.i32GtU, I.brIf(2),
      I.get(nd), I.i32Const(20), I.i32Eq,
      I.if,
      // 20 digits: prev holds the first 19 exactly; v·10 + d must stay below 2^64
      I.get(prev), I.i64Const(U64_MAX_DIV_10), I.i64GtU, I.brIf(3),
      I.get(prev), I.i64Const(U64_MAX_DIV_10), I.i64Eq,
      I.get(p), I.i32Const(1), I.i32Sub, I.i32Load8U(), I.i32Const(ZERO + 5), I.i32GtU, I.i32And, I.brIf(3),
      I.end,
      I.get(p), I.i32Const(1), I.i32Add, I.set(p),
      I.end,
      I.get(out), I.get(n), I.i32Const(3), I.i32Shl, I.i32Add, I.get(v), I.i64Store,
      I.get(n), I.i32Const(1), I.i32Add, I.set(n),
      I.br(0),
      I.end, I.end,
      I.i32Const(CELL.parseStop), I.get(start), I.i32Store(),
      I.get(n),
    ],
  };
}

/** `q −= 2; store the two digits of w % 100 at q; w /= 100`. */
const pair = (q: number, w: number) => [
  I.get(q), I.i32Const(2), I.i32Sub, I.tee(q),
  I.get(w), I.i32Const(100), I.i32RemU, I.i32Const(1), I.i32Shl, I.i32Load16U(REGION.digitPairs),
  I.i32Store16(),
  I.get(w), I.i32Const(100), I.i32DivU, I.set(w),
];

/**
 * formatLines(vals, n, out) → end. Writes each of the n u64s at `vals` in
 * decimal followed by a line feed from `out` on; returns the byte after the
 * last. The length comes from the bit length and a table of powers of ten,
 * the digits two at a time from the end, eight at a time in 32-bit
 * arithmetic after one 64-bit division by 10^8.
 */
export function formatLinesFunction(): WasmFunction {
  // params: 0 vals, 1 n, 2 out; locals: 3 end, 4 q, 5 w, 6 t, 7 v (i64), 8 hi (i64)
  const [vals, n, out, end, q, w, t, v, hi] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  return {
    name: "formatLines",
    params: [T.i32, T.i32, T.i32],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i32, T.i64, T.i64],
    body: [
      I.get(vals), I.get(n), I.i32Const(3), I.i32Shl, I.i32Add, I.set(end),
      I.block, I.loop,
      I.get(vals), I.get(end), I.i32GeU, I.brIf(1),
      I.get(vals), I.i64Load, I.set(v),
      // digits = t + (v|1 ≥ 10^t) with t = ⌊bitlength(v|1) · 1233 / 4096⌋ (1233/4096 ≈ log10 2)
      I.i32Const(64), I.get(v), I.i64Const(1n), I.i64Or, I.i64Clz, I.i32WrapI64, I.i32Sub,
      I.i32Const(1233), I.i32Mul, I.i32Const(12), I.i32ShrU, I.tee(t),
      I.get(t), I.i32Const(3), I.i32Shl, I.i64LoadAt(REGION.powersOf10),
      I.get(v), I.i64Const(1n), I.i64Or, I.i64LeU, I.i32Add,
      I.get(out), I.i32Add, I.tee(q),
      I.i32Const(LF), I.i32Store8(),
      I.get(q), I.i32Const(1), I.i32Add, I.set(out),
      // eight digits at a time while v ≥ 10^8
      I.block, I.loop,
      I.get(v), I.i64Const(100_000_000n), I.i64LtU, I.brIf(1),
      I.get(v), I.i64Const(100_000_000n), I.i64DivU, I.set(hi),
      I.get(v), I.get(hi), I.i64Const(100_000_000n), I.i64Mul, I.i64Sub, I.i32WrapI64, I.set(w),
      I.get(hi), I.set(v),
      ...pair(q, w), ...pair(q, w), ...pair(q, w), ...pair(q, w),
      I.br(0),
      I.end, I.end,
      I.get(v), I.i32WrapI64, I.set(w),
      I.block, I.loop,
      I.get(w), I.i32Const(100), I.i32LtU, I.brIf(1),
      ...pair(q, w),
      I.br(0),
      I.end, I.end,
      I.get(w), I.i32Const(10), I.i32GeU,
      I.if,
      ...pair(q, w),
      I.else,
      I.get(q), I.i32Const(1), I.i32Sub, I.tee(q), I.get(w), I.i32Const(ZERO), I.i32Add, I.i32Store8(),
      I.end,
      I.get(vals), I.i32Const(8), I.i32Add, I.set(vals),
      I.br(0),
      I.end, I.end,
      I.get(out),
    ],
  };
}

/** Writes the tables the decimal kernels read (two-digit pairs, powers of ten) into their memory. */
export function writeDecimalTables(buffer: ArrayBuffer): void {
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < 100; i++) {
    bytes[REGION.digitPairs + 2 * i] = ZERO + Math.floor(i / 10);
    bytes[REGION.digitPairs + 2 * i + 1] = ZERO + (i % 10);
  }
  const pow = new BigUint64Array(buffer, REGION.powersOf10, 20);
  for (let i = 0; i < 20; i++) pow[i] = 10n ** BigInt(i);
}
