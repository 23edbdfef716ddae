/**
 * A tiny WebAssembly module, assembled here from its opcodes (no toolchain, no
 * dependency), for the batch u64 kernels: WebAssembly has native i64
 * arithmetic, which JavaScript numbers lack. Each kernel converts a run of
 * u64 values in the module's memory in place.
 */

/** The few WebAssembly globals used (the project's lib settings do not declare them). */
declare namespace WebAssembly {
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: Record<string, unknown>;
  }
}

const enum Op {
  block = 0x02, loop = 0x03, br = 0x0c, brIf = 0x0d, end = 0x0b, select = 0x1b,
  localGet = 0x20, localSet = 0x21,
  i64Load = 0x29, i64Store = 0x37,
  i32Const = 0x41, i64Const = 0x42,
  i32GeU = 0x4f, i64Eqz = 0x50,
  i32Add = 0x6a, i32Shl = 0x74,
  i64Add = 0x7c, i64Sub = 0x7d, i64Mul = 0x7e, i64And = 0x83, i64Or = 0x84, i64Shl = 0x86, i64ShrU = 0x88,
}
const VOID = 0x40;
const I32 = 0x7f;
const I64 = 0x7e;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const get = (i: number) => [Op.localGet, i];
const set = (i: number) => [Op.localSet, i];
const i64 = (v: bigint) => [Op.i64Const, ...sleb(v)];
const LOW32 = 0xffff_ffffn;

/**
 * scale(ptr, n, mult, shift): value = ((value × mult) >> shift) mod 2^64 for
 * n u64 values at ptr; mult < 2^32, shift 0..63. The 96-bit product is built
 * from two 32 × 32-bit products, each exact in an i64.
 */
function scaleBody(): number[] {
  // params: 0 ptr, 1 n, 2 mult, 3 shift; locals: 4 end (i32), 5 x, 6 plo, 7 phi/high, 8 mid, 9 low, 10 64-shift
  const code = [
    ...get(0), ...get(1), Op.i32Const, 3, Op.i32Shl, Op.i32Add, ...set(4),
    ...i64(64n), ...get(3), Op.i64Sub, ...set(10),
    Op.block, VOID, Op.loop, VOID,
    ...get(0), ...get(4), Op.i32GeU, Op.brIf, 1,
    ...get(0), Op.i64Load, 3, 0, ...set(5),
    ...get(5), ...i64(LOW32), Op.i64And, ...get(2), Op.i64Mul, ...set(6),
    ...get(5), ...i64(32n), Op.i64ShrU, ...get(2), Op.i64Mul, ...set(7),
    ...get(6), ...i64(32n), Op.i64ShrU, ...get(7), ...i64(LOW32), Op.i64And, Op.i64Add, ...set(8),
    ...get(8), ...i64(32n), Op.i64Shl, ...get(6), ...i64(LOW32), Op.i64And, Op.i64Or, ...set(9),
    ...get(7), ...i64(32n), Op.i64ShrU, ...get(8), ...i64(32n), Op.i64ShrU, Op.i64Add, ...set(7),
    ...get(0),
    // select(a, b, c) is c ? a : b — here shift == 0 ? low : (low >> shift) | (high << (64 − shift)),
    // because wasm shift counts are taken mod 64.
    ...get(9),
    ...get(9), ...get(3), Op.i64ShrU, ...get(7), ...get(10), Op.i64Shl, Op.i64Or,
    ...get(3), Op.i64Eqz,
    Op.select,
    Op.i64Store, 3, 0,
    ...get(0), Op.i32Const, 8, Op.i32Add, ...set(0),
    Op.br, 0,
    Op.end, Op.end, Op.end,
  ];
  const locals = vec([[1, I32], [6, I64]]);
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

/**
 * mul_shift_add(ptr, n, mult, shift, add): value = (((value × mult) >> shift) + add) mod 2^64
 * for n u64 values at ptr; mult any u64, shift 0..63. The 128-bit product is
 * built from four 32 × 32-bit partial products.
 */
function mulShiftAddBody(): number[] {
  // params: 0 ptr, 1 n, 2 mult, 3 shift, 4 add
  // locals: 5 end (i32); 6 x, 7 a, 8 b, 9 c, 10 d, 11 mid, 12 lo, 13 hi, 14 64-shift, 15 mlo, 16 mhi
  const LO = (i: number) => [...get(i), ...i64(LOW32), Op.i64And];
  const HI = (i: number) => [...get(i), ...i64(32n), Op.i64ShrU];
  const code = [
    ...get(0), ...get(1), Op.i32Const, 3, Op.i32Shl, Op.i32Add, ...set(5),
    ...i64(64n), ...get(3), Op.i64Sub, ...set(14),
    ...LO(2), ...set(15), ...HI(2), ...set(16),
    Op.block, VOID, Op.loop, VOID,
    ...get(0), ...get(5), Op.i32GeU, Op.brIf, 1,
    ...get(0), Op.i64Load, 3, 0, ...set(6),
    ...LO(6), ...get(15), Op.i64Mul, ...set(7),
    ...LO(6), ...get(16), Op.i64Mul, ...set(8),
    ...HI(6), ...get(15), Op.i64Mul, ...set(9),
    ...HI(6), ...get(16), Op.i64Mul, ...set(10),
    // mid = (a >> 32) + lo32(b) + lo32(c) < 3·2^32
    ...HI(7), ...LO(8), Op.i64Add, ...LO(9), Op.i64Add, ...set(11),
    ...get(11), ...i64(32n), Op.i64Shl, ...LO(7), Op.i64Or, ...set(12),
    ...get(10), ...HI(8), Op.i64Add, ...HI(9), Op.i64Add, ...HI(11), Op.i64Add, ...set(13),
    ...get(0),
    ...get(12),
    ...get(12), ...get(3), Op.i64ShrU, ...get(13), ...get(14), Op.i64Shl, Op.i64Or,
    ...get(3), Op.i64Eqz,
    Op.select,
    ...get(4), Op.i64Add,
    Op.i64Store, 3, 0,
    ...get(0), Op.i32Const, 8, Op.i32Add, ...set(0),
    Op.br, 0,
    Op.end, Op.end, Op.end,
  ];
  const locals = vec([[1, I32], [11, I64]]);
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function assemble(): Uint8Array {
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I64], [I64]]), 0], [0x60, ...vec([[I32], [I32], [I64], [I64], [I64]]), 0]])),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...name("memory"), 0x02, 0], [...name("scale"), 0x00, 0], [...name("mulShiftAdd"), 0x00, 1]])),
    ...section(10, vec([scaleBody(), mulShiftAddBody()])),
  ];
  return new Uint8Array(bytes);
}

/** The instantiated kernels, or why they are unavailable. */
export interface U64Kernels {
  readonly memory: WebAssembly.Memory;
  scale(ptr: number, n: number, mult: bigint, shift: bigint): void;
  mulShiftAdd(ptr: number, n: number, mult: bigint, shift: bigint, add: bigint): void;
}

let cached: U64Kernels | null | undefined;

/** Instantiates the kernels once; returns null where WebAssembly is unavailable (the callers then use the JS path). */
export function u64Kernels(): U64Kernels | null {
  if (cached !== undefined) return cached;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(assemble()));
    cached = instance.exports as unknown as U64Kernels;
  } catch {
    cached = null;
  }
  return cached;
}

/** Values per call: the module's memory holds one chunk (64 Ki values = 512 KiB). */
export const WASM_CHUNK_VALUES = 65536;

/** Makes sure the module's memory holds `bytes` bytes. */
export function ensureWasmMemory(k: U64Kernels, bytes: number): void {
  const need = Math.ceil(bytes / 65536) - k.memory.buffer.byteLength / 65536;
  if (need > 0) k.memory.grow(need);
}
