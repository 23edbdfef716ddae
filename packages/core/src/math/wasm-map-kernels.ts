/**
 * Mapping kernels (WebAssembly, written with {@link I}) that the batch
 * converter runs in place on the kernel memory: the conversion operations a
 * mapping codec can declare (see batch-ops.ts) and the epoch table lookups.
 *
 * Every operation kernel has the signature
 * `(ptr, n, status, e, fail, …params) → failures`: it converts the u64 at
 * `ptr + 8i` for i < n — every one ("all" variant) or only those whose i32
 * `status[i] == e` ("masked" variant) — and where a value has no result
 * (outside the operation's domain) leaves it unchanged, writes `fail` to
 * `status[i]` and counts it.
 */
import { CELL } from "./wasm-kernel-layout.js";
import { I, T, V, type WasmFunction } from "./wasm-assembler.js";

type Code = (readonly number[])[];
const LOW32 = 0xffff_ffffn;

/** Parameter indices every operation kernel shares. */
const P = { ptr: 0, n: 1, status: 2, e: 3, fail: 4 } as const;
const COMMON = [T.i32, T.i32, T.i32, T.i32, T.i32];

/**
 * The loop of an operation kernel. `body` reads the value from local `x`,
 * and either leaves the result on the stack (`fallible` false) or, when it
 * can fail, branches with `brIf(failDepth)`-relative code that it builds
 * itself: it gets the depth of the "fail" block as an argument.
 */
function opLoop(masked: boolean, end: number, sp: number, x: number, failures: number, body: (failDepth: number) => Code): Code {
  // Inside the loop the labels are: 0 loop, 1 outer block; a masked kernel adds an `if`; the
  // per-value "fail" block sits inside that.
  const work: Code = [
    I.block,
    I.get(P.ptr), I.i64Load, I.set(x),
    ...body(0),
    I.br(1),
    I.end,
    // failed: mark and count, value untouched
    I.get(sp), I.get(P.fail), I.i32Store(),
    I.get(failures), I.i32Const(1), I.i32Add, I.set(failures),
  ];
  return [
    I.get(P.ptr), I.get(P.n), I.i32Const(3), I.i32Shl, I.i32Add, I.set(end),
    I.get(P.status), I.set(sp),
    I.block, I.loop,
    I.get(P.ptr), I.get(end), I.i32GeU, I.brIf(1),
    I.block,
    ...(masked ? [I.get(sp), I.i32Load(), I.get(P.e), I.i32Ne, I.brIf(0)] : []),
    ...work,
    I.end,
    I.get(P.ptr), I.i32Const(8), I.i32Add, I.set(P.ptr),
    I.get(sp), I.i32Const(4), I.i32Add, I.set(sp),
    I.br(0),
    I.end, I.end,
    I.get(failures),
  ];
}

/** Where a body stores its result: `ptr`, then leaves the "work" block (depth given). */
const store = (result: Code, workDepth: number): Code => [I.get(P.ptr), ...result, I.i64Store, I.br(workDepth)];

/** Locals the scalar 128-bit product needs (i64): x, a, b, c, d, mid, lo, hi. */
interface ProductLocals {
  readonly x: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly mid: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * Pushes (((x × mult) >> shift) + add) mod 2^64 for local `x`: the 128-bit
 * product from four 32 × 32-bit partial products (`ml`, `mh` the halves of
 * mult, `left` = 64 − shift).
 */
function scalarMulShiftAdd(l: ProductLocals, ml: number, mh: number, shift: number, left: number, add: number): Code {
  const lo32 = (v: number) => [I.get(v), I.i64Const(LOW32), I.i64And];
  const hi32 = (v: number) => [I.get(v), I.i64Const(32n), I.i64ShrU];
  return [
    ...lo32(l.x), I.get(ml), I.i64Mul, I.set(l.a),
    ...lo32(l.x), I.get(mh), I.i64Mul, I.set(l.b),
    ...hi32(l.x), I.get(ml), I.i64Mul, I.set(l.c),
    ...hi32(l.x), I.get(mh), I.i64Mul, I.set(l.d),
    ...hi32(l.a), ...lo32(l.b), I.i64Add, ...lo32(l.c), I.i64Add, I.set(l.mid),
    I.get(l.mid), I.i64Const(32n), I.i64Shl, ...lo32(l.a), I.i64Or, I.set(l.lo),
    I.get(l.d), ...hi32(l.b), I.i64Add, ...hi32(l.c), I.i64Add, ...hi32(l.mid), I.i64Add, I.set(l.hi),
    I.get(l.lo),
    I.get(l.lo), I.get(shift), I.i64ShrU, I.get(l.hi), I.get(left), I.i64Shl, I.i64Or,
    I.get(shift), I.i64Eqz,
    I.select,
    I.get(add), I.i64Add,
  ];
}

/**
 * mulShiftAdd: x = (((x × mult) >> shift) + add) mod 2^64, the 128-bit
 * product from four 32 × 32-bit partial products. Never fails.
 * Extra params: 5 mult, 6 shift, 7 add (i64). Locals from 8.
 */
export function mulShiftAddOpFunction(masked: boolean): WasmFunction {
  const [mult, shift, add] = [5, 6, 7];
  const [end, sp, failures, x, a, b, c, d, mid, lo, hi, left, ml, mh] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  return {
    name: masked ? "mulShiftAddMasked" : "mulShiftAddAll",
    params: [...COMMON, T.i64, T.i64, T.i64],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, ...Array<typeof T.i64>(11).fill(T.i64)],
    body: [
      I.i64Const(64n), I.get(shift), I.i64Sub, I.set(left),
      I.get(mult), I.i64Const(LOW32), I.i64And, I.set(ml), I.get(mult), I.i64Const(32n), I.i64ShrU, I.set(mh),
      ...opLoop(masked, end, sp, x, failures, (failDepth) => store(scalarMulShiftAdd({ x, a, b, c, d, mid, lo, hi }, ml, mh, shift, left, add), failDepth + 1)),
    ],
  };
}

/** Byte lanes that gather the low 32-bit halves of two u64 into lanes 0–1 and the high halves into lanes 2–3. */
const HALVES = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15];

/**
 * The "all" mulShiftAdd, two values per step with 128-bit SIMD: the four
 * partial products of both values are four `i64x2.extmul_*_i32x4_u` (each
 * value's low and high halves against mult's). For a shift of 32 or more
 * (KVM's 48 and 32) the low 32 bits of the product never reach the result:
 * `((mid mod 2^32) >> (s − 32)) | (hi << (64 − s))`, four values per loop
 * turn; otherwise `(lo >> s) | ((hi << 1) << (63 − s))`, right for s = 0 too.
 * An odd last value takes the scalar path. Same signature and results as
 * {@link mulShiftAddOpFunction}(false); used where the runtime has SIMD.
 */
export function mulShiftAddSimdFunction(): WasmFunction {
  const [mult, shift, add] = [5, 6, 7];
  // i32: 8 end, 9 quadsEnd, 10 s, 11 s2, 12 sHigh (s − 32), 13 sLeft (64 − s); v128: 14 m1, 15 m2, 16 low, 17 addv, 18 xs, 19 va, 20 vb, 21 vc, 22 vmid;
  // i64 (scalar tail): 23 x, 24 a, 25 b, 26 c, 27 d, 28 mid, 29 lo, 30 hi, 31 left, 32 ml, 33 mh
  const [end, quadsEnd, s, s2, sHigh, sLeft, m1, m2, low, addv, xs, va, vb, vc, vmid] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];
  const [x, a, b, c, d, mid, lo, hi, left, ml, mh] = [23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33];
  const halves = (v: number) => [I.get(v), V.i64x2Splat];
  /** a, b, c (three of the four partial products) and mid = a >> 32 + lo32(b) + lo32(c) (< 3·2^32) of the pair at ptr + offset. */
  const products = (offset: number): Code => [
    I.get(P.ptr), V.loadAt(offset), I.get(P.ptr), V.loadAt(offset), V.shuffle(HALVES), I.set(xs),
    I.get(xs), I.get(m1), V.i64x2ExtMulLowI32x4U, I.set(va),
    I.get(xs), I.get(m2), V.i64x2ExtMulLowI32x4U, I.set(vb),
    I.get(xs), I.get(m2), V.i64x2ExtMulHighI32x4U, I.set(vc),
    I.get(va), I.i32Const(32), V.i64x2ShrU, I.get(vb), I.get(low), V.and, V.i64x2Add, I.get(vc), I.get(low), V.and, V.i64x2Add, I.set(vmid),
  ];
  /** hi = d + b >> 32 + c >> 32 + mid >> 32. */
  const high: Code = [
    I.get(xs), I.get(m1), V.i64x2ExtMulHighI32x4U,
    I.get(vb), I.i32Const(32), V.i64x2ShrU, V.i64x2Add, I.get(vc), I.i32Const(32), V.i64x2ShrU, V.i64x2Add, I.get(vmid), I.i32Const(32), V.i64x2ShrU, V.i64x2Add,
  ];
  const pairHighShift = (offset: number): Code => [
    I.get(P.ptr),
    ...products(offset),
    I.get(vmid), I.get(low), V.and, I.get(sHigh), V.i64x2ShrU,
    ...high, I.get(sLeft), V.i64x2Shl,
    V.or, I.get(addv), V.i64x2Add,
    V.storeAt(offset),
  ];
  const pairAnyShift: Code = [
    I.get(P.ptr),
    ...products(0),
    I.get(vmid), I.i32Const(32), V.i64x2Shl, I.get(va), I.get(low), V.and, V.or, I.get(s), V.i64x2ShrU,
    ...high, I.i32Const(1), V.i64x2Shl, I.get(s2), V.i64x2Shl,
    V.or, I.get(addv), V.i64x2Add,
    V.store,
  ];
  return {
    name: "mulShiftAddAll",
    params: [...COMMON, T.i64, T.i64, T.i64],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, ...Array<typeof T.v128>(9).fill(T.v128), ...Array<typeof T.i64>(11).fill(T.i64)],
    body: [
      I.get(P.ptr), I.get(P.n), I.i32Const(3), I.i32Shl, I.i32Add, I.set(end),
      I.get(P.ptr), I.get(P.n), I.i32Const(-4), I.i32And, I.i32Const(3), I.i32Shl, I.i32Add, I.set(quadsEnd),
      I.get(shift), I.i32WrapI64, I.set(s),
      I.i32Const(63), I.get(s), I.i32Sub, I.set(s2),
      I.get(s), I.i32Const(32), I.i32Sub, I.set(sHigh),
      I.i32Const(64), I.get(s), I.i32Sub, I.set(sLeft),
      // m1 = [ml, ml, mh, mh], m2 = [mh, mh, ml, ml] as i32 lanes
      ...halves(mult), ...halves(mult), V.shuffle([0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7]), I.set(m1),
      ...halves(mult), ...halves(mult), V.shuffle([4, 5, 6, 7, 4, 5, 6, 7, 0, 1, 2, 3, 0, 1, 2, 3]), I.set(m2),
      I.i64Const(LOW32), V.i64x2Splat, I.set(low),
      I.get(add), V.i64x2Splat, I.set(addv),
      // shift ≥ 32: four values per turn
      I.get(s), I.i32Const(32), I.i32GeU,
      I.if,
      I.block, I.loop,
      I.get(P.ptr), I.get(quadsEnd), I.i32GeU, I.brIf(1),
      ...pairHighShift(0), ...pairHighShift(16),
      I.get(P.ptr), I.i32Const(32), I.i32Add, I.set(P.ptr),
      I.br(0),
      I.end, I.end,
      I.end,
      // any shift (and what the loop above left): two per turn
      I.block, I.loop,
      I.get(P.ptr), I.i32Const(16), I.i32Add, I.get(end), I.i32GtU, I.brIf(1),
      ...pairAnyShift,
      I.get(P.ptr), I.i32Const(16), I.i32Add, I.set(P.ptr),
      I.br(0),
      I.end, I.end,
      // an odd last value
      I.get(P.ptr), I.get(end), I.i32LtU,
      I.if,
      I.i64Const(64n), I.get(shift), I.i64Sub, I.set(left),
      I.get(mult), I.i64Const(LOW32), I.i64And, I.set(ml), I.get(mult), I.i64Const(32n), I.i64ShrU, I.set(mh),
      I.get(P.ptr), I.get(P.ptr), I.i64Load, I.set(x),
      ...scalarMulShiftAdd({ x, a, b, c, d, mid, lo, hi }, ml, mh, shift, left, add),
      I.i64Store,
      I.end,
      I.i32Const(0),
    ],
  };
}

/**
 * addMask: x = (x + add) mod 2^64 & mask — `(x + add) mod 2^w` for mask 2^w − 1.
 * Never fails. Extra params: 5 add, 6 mask (i64). Locals from 7.
 */
export function addMaskOpFunction(masked: boolean): WasmFunction {
  const [add, mask] = [5, 6];
  const [end, sp, failures, x] = [7, 8, 9, 10];
  return {
    name: masked ? "addMaskMasked" : "addMaskAll",
    params: [...COMMON, T.i64, T.i64],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i64],
    body: opLoop(masked, end, sp, x, failures, (failDepth) => store([I.get(x), I.get(add), I.i64Add, I.get(mask), I.i64And], failDepth + 1)),
  };
}

/**
 * mulShiftAddInverse: the smallest x < 2^64 with ⌊x × mult / 2^shift⌋ ≥ u,
 * u = (y − add) mod 2^64, i.e. ⌈u·2^shift / mult⌉; fails when
 * u·2^shift > mult·(2^64 − 1) (no such x). The 128-by-64-bit division uses a
 * reciprocal of the normalised divisor computed once per batch (Möller and
 * Granlund, "Improved division by invariant integers", 2011, algorithm 4):
 * one 64 × 64 → 128-bit product, a few additions and two adjustments done
 * with masks — no division instruction, and no branch that depends on the
 * data (the schoolbook digit estimate needs a data-dependent number of
 * corrections, 1.5 per value for some ratios, which a branch mispredicts).
 * Extra params: 5 add, 6 shift, 7 shiftNonZero (i32), 8 mult, 9 maxHi, 10 maxLo,
 * 11 s (normalising shift), 12 sNonZero (i32), 13 d = mult << s, 14 v = ⌊(2^128 − 1) / d⌋ − 2^64.
 * Locals from 15.
 */
export function mulShiftAddInverseOpFunction(masked: boolean): WasmFunction {
  const [add, f, fnz, r, mhi, mlo, s, snz, d, v] = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const [end, sp, failures, x, u, xhi, xlo, u1, u0, pa, pb, pc, pmid, q1, q0, rem, m] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31];
  const lo32 = (l: number) => [I.get(l), I.i64Const(LOW32), I.i64And];
  const hi32 = (l: number) => [I.get(l), I.i64Const(32n), I.i64ShrU];
  return {
    name: masked ? "mulShiftAddInverseMasked" : "mulShiftAddInverseAll",
    params: [...COMMON, T.i64, T.i64, T.i32, T.i64, T.i64, T.i64, T.i64, T.i32, T.i64, T.i64],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, ...Array<typeof T.i64>(14).fill(T.i64)],
    body: opLoop(masked, end, sp, x, failures, (failDepth) => [
      // u = y − add; X = u << f as (xhi, xlo)
      I.get(x), I.get(add), I.i64Sub, I.set(u),
      I.get(u), I.i64Const(64n), I.get(f), I.i64Sub, I.i64ShrU, I.i64Const(0n), I.get(fnz), I.select, I.set(xhi),
      I.get(u), I.get(f), I.i64Shl, I.set(xlo),
      // X > mult·(2^64 − 1): no preimage below 2^64
      I.get(xhi), I.get(mhi), I.i64GtU,
      I.get(xhi), I.get(mhi), I.i64Eq, I.get(xlo), I.get(mlo), I.i64GtU, I.i32And,
      I.i32Or,
      I.brIf(failDepth),
      // X += mult − 1 (cannot reach mult·2^64), so that the floor below is the ceiling of X / mult
      I.get(xlo), I.get(r), I.i64Const(1n), I.i64Sub, I.i64Add, I.set(u0),
      I.get(xhi), I.get(u0), I.get(xlo), I.i64LtU, I.i64ExtendI32U, I.i64Add, I.set(xhi),
      I.get(u0), I.set(xlo),
      // normalise: (u1, u0) = X << s, with u1 < d since the quotient is below 2^64
      I.get(xhi), I.get(s), I.i64Shl, I.get(xlo), I.i64Const(64n), I.get(s), I.i64Sub, I.i64ShrU, I.i64Const(0n), I.get(snz), I.select, I.i64Or, I.set(u1),
      I.get(xlo), I.get(s), I.i64Shl, I.set(u0),
      // (q1, q0) = v·u1 (128-bit, four 32 × 32-bit products) + (u1 + 1, u0)
      ...lo32(v), ...lo32(u1), I.i64Mul, I.set(pa),
      ...lo32(v), ...hi32(u1), I.i64Mul, I.set(pb),
      ...hi32(v), ...lo32(u1), I.i64Mul, I.set(pc),
      ...hi32(pa), ...lo32(pb), I.i64Add, ...lo32(pc), I.i64Add, I.set(pmid),
      I.get(pmid), I.i64Const(32n), I.i64Shl, ...lo32(pa), I.i64Or, I.set(q0),
      ...hi32(v), ...hi32(u1), I.i64Mul, ...hi32(pb), I.i64Add, ...hi32(pc), I.i64Add, ...hi32(pmid), I.i64Add, I.set(q1),
      I.get(q0), I.get(u0), I.i64Add, I.set(pa),
      I.get(q1), I.get(u1), I.i64Add, I.i64Const(1n), I.i64Add, I.get(pa), I.get(q0), I.i64LtU, I.i64ExtendI32U, I.i64Add, I.set(q1),
      I.get(pa), I.set(q0),
      // r = u0 − q1·d; if r > q0: q1 −= 1, r += d (a mask, not a branch); if r ≥ d: q1 += 1
      I.get(u0), I.get(q1), I.get(d), I.i64Mul, I.i64Sub, I.set(rem),
      I.i64Const(0n), I.get(rem), I.get(q0), I.i64GtU, I.i64ExtendI32U, I.i64Sub, I.set(m),
      I.get(q1), I.get(m), I.i64Add, I.set(q1),
      I.get(rem), I.get(d), I.get(m), I.i64And, I.i64Add, I.set(rem),
      ...store([I.get(q1), I.get(rem), I.get(d), I.i64GeU, I.i64ExtendI32U, I.i64Add], failDepth + 1),
    ]),
  };
}

/**
 * classifyEpochs(vals, n, status, amb, table, epochs) → ambiguous count.
 * For each value: status = the last epoch whose [validFrom, validUntil)
 * holds it (-1 none), amb = 1 when an earlier epoch holds it too. Writes the
 * smallest and largest epoch chosen to the `epochMin`/`epochMax` cells
 * (epochs and -1 when none was) and the number of values no epoch holds to
 * the `outside` cell.
 */
export function classifyEpochsFunction(): WasmFunction {
  const [vals, n, status, amb, table, epochs] = [0, 1, 2, 3, 4, 5];
  const [end, e, chosen, a, tp, lo, hi, count, none, v] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  return {
    name: "classifyEpochs",
    params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i64],
    body: [
      I.get(vals), I.get(n), I.i32Const(3), I.i32Shl, I.i32Add, I.set(end),
      I.get(epochs), I.set(lo),
      I.i32Const(-1), I.set(hi),
      I.block, I.loop,
      I.get(vals), I.get(end), I.i32GeU, I.brIf(1),
      I.get(vals), I.i64Load, I.set(v),
      I.i32Const(-1), I.set(chosen),
      I.i32Const(0), I.set(a),
      I.get(epochs), I.set(e),
      I.block, I.loop,
      I.get(e), I.i32Eqz, I.brIf(1),
      I.get(e), I.i32Const(1), I.i32Sub, I.tee(e),
      I.i32Const(24), I.i32Mul, I.get(table), I.i32Add, I.set(tp),
      // in range: v ≥ validFrom && (open-ended || v < validUntil)
      I.get(v), I.get(tp), I.i64LoadAt(0), I.i64GeU,
      I.get(tp), I.i64LoadAt(16), I.i64Eqz, I.i32Eqz,
      I.get(v), I.get(tp), I.i64LoadAt(8), I.i64LtU,
      I.i32Or, I.i32And,
      I.if,
      I.get(chosen), I.i32Const(0), I.i32LtS,
      I.if,
      I.get(e), I.set(chosen),
      I.else,
      I.i32Const(1), I.set(a),
      I.br(3),
      I.end,
      I.end,
      I.br(0),
      I.end, I.end,
      I.get(status), I.get(chosen), I.i32Store(),
      I.get(amb), I.get(a), I.i32Store8(),
      I.get(chosen), I.i32Const(0), I.i32GeS,
      I.if,
      I.get(chosen), I.get(lo), I.get(chosen), I.get(lo), I.i32LtS, I.select, I.set(lo),
      I.get(chosen), I.get(hi), I.get(chosen), I.get(hi), I.i32GeS, I.select, I.set(hi),
      I.get(count), I.get(a), I.i32Add, I.set(count),
      I.else,
      I.get(none), I.i32Const(1), I.i32Add, I.set(none),
      I.end,
      I.get(vals), I.i32Const(8), I.i32Add, I.set(vals),
      I.get(status), I.i32Const(4), I.i32Add, I.set(status),
      I.get(amb), I.i32Const(1), I.i32Add, I.set(amb),
      I.br(0),
      I.end, I.end,
      I.i32Const(CELL.epochMin), I.get(lo), I.i32Store(),
      I.i32Const(CELL.epochMax), I.get(hi), I.i32Store(),
      I.i32Const(CELL.outside), I.get(none), I.i32Store(),
      I.get(count),
    ],
  };
}

/**
 * claimEpoch(results, failed, vals, status, amb, n, validFrom, validUntil, open, e) → claimed.
 * One epoch's pass of the inverse: where its kernel succeeded (`failed[i]`
 * is 0) and the result lies in its [validFrom, validUntil), the value is
 * claimed — by this epoch when no later one claimed it (status −1: the
 * result goes to `vals[i]`, status becomes e), else it is marked ambiguous.
 * Adds the values newly marked ambiguous to the `ambiguous` cell.
 */
export function claimEpochFunction(): WasmFunction {
  const [res, failed, vals, status, amb, n, from, until, open, e] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [end, claimed, newAmb, w] = [10, 11, 12, 13];
  return {
    name: "claimEpoch",
    params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i64, T.i64, T.i32, T.i32],
    results: [T.i32],
    locals: [T.i32, T.i32, T.i32, T.i64],
    body: [
      I.get(res), I.get(n), I.i32Const(3), I.i32Shl, I.i32Add, I.set(end),
      I.block, I.loop,
      I.get(res), I.get(end), I.i32GeU, I.brIf(1),
      I.get(failed), I.i32Load(), I.i32Eqz,
      I.if,
      I.get(res), I.i64Load, I.tee(w), I.get(from), I.i64GeU,
      I.get(open), I.get(w), I.get(until), I.i64LtU, I.i32Or, I.i32And,
      I.if,
      I.get(status), I.i32Load(), I.i32Const(0), I.i32LtS,
      I.if,
      I.get(status), I.get(e), I.i32Store(),
      I.get(vals), I.get(w), I.i64Store,
      I.get(claimed), I.i32Const(1), I.i32Add, I.set(claimed),
      I.else,
      I.get(amb), I.i32Load8U(), I.i32Eqz,
      I.if,
      I.get(amb), I.i32Const(1), I.i32Store8(),
      I.get(newAmb), I.i32Const(1), I.i32Add, I.set(newAmb),
      I.end,
      I.end,
      I.end,
      I.end,
      I.get(res), I.i32Const(8), I.i32Add, I.set(res),
      I.get(vals), I.i32Const(8), I.i32Add, I.set(vals),
      I.get(failed), I.i32Const(4), I.i32Add, I.set(failed),
      I.get(status), I.i32Const(4), I.i32Add, I.set(status),
      I.get(amb), I.i32Const(1), I.i32Add, I.set(amb),
      I.br(0),
      I.end, I.end,
      I.i32Const(CELL.ambiguous), I.i32Const(CELL.ambiguous), I.i32Load(), I.get(newAmb), I.i32Add, I.i32Store(),
      I.get(claimed),
    ],
  };
}
