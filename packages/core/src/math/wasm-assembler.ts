/**
 * A very small WebAssembly assembler: enough to build a module of a few
 * numeric functions over one exported memory, without a toolchain. Functions
 * are written as arrays of instructions (opcodes with their immediates).
 * Used by the batch u64 kernels (core, x86).
 */

/** Value types. */
export const T = { i32: 0x7f, i64: 0x7e, f64: 0x7c, v128: 0x7b } as const;
type ValType = (typeof T)[keyof typeof T];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(v: bigint): number[] {
  const out: number[] = [];
  // Small constants (most of them) without BigInt arithmetic: start-up runs this cold.
  if (v >= -0x4000_0000n && v < 0x4000_0000n) {
    let n = Number(v);
    for (;;) {
      const b = n & 0x7f;
      n >>= 7;
      const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
      out.push(done ? b : b | 0x80);
      if (done) return out;
    }
  }
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}


/** Instructions used by this package's kernels. */
export const I = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (l: number) => [0x0c, ...uleb(l)],
  brIf: (l: number) => [0x0d, ...uleb(l)],
  return: [0x0f],
  select: [0x1b],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i64Load: [0x29, 0x03, 0x00],
  i64Store: [0x37, 0x03, 0x00],
  i32Const: (v: number) => [0x41, ...sleb(BigInt(v))],
  i64Const: (v: bigint) => [0x42, ...sleb(BigInt.asIntN(64, v))],
  i32Eqz: [0x45],
  i32Ne: [0x47],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i64Eqz: [0x50],
  i64Ne: [0x52],
  i64LtU: [0x54],
  i64GtU: [0x56],
  i64GeU: [0x5a],
  i32Add: [0x6a],
  i32Shl: [0x74],
  i32Or: [0x72],
  i64Clz: [0x79],
  i64Add: [0x7c],
  i64Sub: [0x7d],
  i64Mul: [0x7e],
  i64DivU: [0x80],
  i64And: [0x83],
  i64Or: [0x84],
  i64Shl: [0x86],
  i64ShrU: [0x88],
  i32WrapI64: [0xa7],
  i64ExtendI32U: [0xad],
  // Added for the decimal and epoch kernels (memarg: log2 alignment, then byte offset).
  i32Load: (offset = 0) => [0x28, 0x02, ...uleb(offset)],
  i32Load8U: (offset = 0) => [0x2d, 0x00, ...uleb(offset)],
  i32Load16U: (offset = 0) => [0x2f, 0x01, ...uleb(offset)],
  i32Store: (offset = 0) => [0x36, 0x02, ...uleb(offset)],
  i32Store8: (offset = 0) => [0x3a, 0x00, ...uleb(offset)],
  i32Store16: (offset = 0) => [0x3b, 0x01, ...uleb(offset)],
  i64LoadAt: (offset = 0) => [0x29, 0x03, ...uleb(offset)],
  i64StoreAt: (offset = 0) => [0x37, 0x03, ...uleb(offset)],
  i32Eq: [0x46],
  i32LtS: [0x48],
  i32GtU: [0x4b],
  i32LeU: [0x4d],
  i32GeS: [0x4e],
  i64Eq: [0x51],
  i64LeU: [0x58],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32DivU: [0x6e],
  i32RemU: [0x70],
  i32And: [0x71],
  i32ShrU: [0x76],
  i64RemU: [0x82],
  i64Xor: [0x85],

  i64Ctz: [0x7a],
  i64LtS: [0x53],
  memoryCopy: [0xfc, 0x0a, 0x00, 0x00],
  memoryFill: [0xfc, 0x0b, 0x00],
} as const;

/** SIMD instructions (the 0xFD prefix, then the opcode as a LEB128 u32). */
const simd = (op: number, ...immediates: number[]) => [0xfd, ...uleb(op), ...immediates];

/** The 128-bit SIMD instructions used by the kernels (lanes little-endian, as memory holds them). */
export const V = {
  load: simd(0x00, 0x00, 0x00),
  store: simd(0x0b, 0x00, 0x00),
  loadAt: (offset: number) => simd(0x00, 0x00, ...uleb(offset)),
  storeAt: (offset: number) => simd(0x0b, 0x00, ...uleb(offset)),
  /** i8x16.shuffle: result byte k = (a ++ b)[lanes[k]]. */
  shuffle: (lanes: readonly number[]) => simd(0x0d, ...lanes),
  i64x2Splat: simd(0x12),
  and: simd(0x4e),
  or: simd(0x50),
  i64x2Shl: simd(0xcb),
  i64x2ShrU: simd(0xcd),
  i64x2Add: simd(0xce),
  /** Lanes 0 and 1 of two i32x4, multiplied into two u64. */
  i64x2ExtMulLowI32x4U: simd(0xde),
  /** Lanes 2 and 3 of two i32x4, multiplied into two u64. */
  i64x2ExtMulHighI32x4U: simd(0xdf),
} as const;

/** One function: parameter and result types, extra locals, body. */
export interface WasmFunction {
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  readonly locals: readonly ValType[];
  readonly body: readonly (readonly number[])[];
}

/** Bytes appended without spreading arrays (the assembler runs once, cold, at start-up). */
class ByteList {
  readonly b: number[] = [];
  byte(x: number): void {
    this.b.push(x);
  }
  all(xs: readonly number[]): void {
    for (let i = 0; i < xs.length; i++) this.b.push(xs[i] as number);
  }
  uleb(n: number): void {
    do {
      let x = n & 0x7f;
      n >>>= 7;
      if (n !== 0) x |= 0x80;
      this.b.push(x);
    } while (n !== 0);
  }
  name(s: string): void {
    this.uleb(s.length);
    for (let i = 0; i < s.length; i++) this.b.push(s.charCodeAt(i));
  }
  section(id: number, body: ByteList): void {
    this.b.push(id);
    this.uleb(body.b.length);
    this.all(body.b);
  }
}

/** Assembles a module exporting `memory` (min `pages` × 64 KiB) and the functions (ASCII names). */
export function assembleModule(functions: readonly WasmFunction[], pages: number): Uint8Array {
  const types = new ByteList();
  types.uleb(functions.length);
  for (const f of functions) {
    types.byte(0x60);
    types.uleb(f.params.length);
    types.all(f.params);
    types.uleb(f.results.length);
    types.all(f.results);
  }
  const funcs = new ByteList();
  funcs.uleb(functions.length);
  functions.forEach((_, i) => funcs.uleb(i));
  const memory = new ByteList();
  memory.all([1, 0x00]);
  memory.uleb(pages);
  const exports = new ByteList();
  exports.uleb(functions.length + 1);
  exports.name("memory");
  exports.all([0x02, 0x00]);
  functions.forEach((f, i) => {
    exports.name(f.name);
    exports.byte(0x00);
    exports.uleb(i);
  });
  const codes = new ByteList();
  codes.uleb(functions.length);
  for (const f of functions) {
    const body = new ByteList();
    body.uleb(f.locals.length);
    for (const t of f.locals) body.all([0x01, t]);
    for (const ins of f.body) body.all(ins);
    body.byte(0x0b);
    codes.uleb(body.b.length);
    codes.all(body.b);
  }
  const out = new ByteList();
  out.all([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  out.section(1, types);
  out.section(3, funcs);
  out.section(5, memory);
  out.section(7, exports);
  out.section(10, codes);
  return new Uint8Array(out.b);
}
