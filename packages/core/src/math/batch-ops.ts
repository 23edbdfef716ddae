/**
 * Batch operations: the conversions a mapping codec can declare so that many
 * values convert without a BigInt each (see `MappingCodec.createBatch`).
 * A codec states the arithmetic; core runs it on its WebAssembly kernels in
 * place, or value by value where WebAssembly is unavailable. Each operation
 * has a BigInt reference ({@link applyBatchOp}) that the kernels are
 * property-tested against.
 */
import { ClocksourceError } from "../errors.js";
import { assertU64 } from "./u64.js";
import { mulShiftAddInverse } from "./mul-shift-add.js";
import type { U64Kernels } from "./wasm-u64-kernels.js";

/**
 * One conversion over u64 values. A value the operation has no result for
 * (outside its domain) is "failed": the function it stands for throws
 * `OUT_OF_RANGE` there.
 */
export type BatchOp =
  /** `((x × mult) >> shift) + add` mod 2^64, 128-bit product (KVM's host → guest TSC). Never fails. */
  | { readonly kind: "mulShiftAdd"; readonly mult: bigint; readonly shift: number; readonly add: bigint }
  /**
   * The smallest x < 2^64 with `⌊x × mult / 2^shift⌋ ≥ (y − add) mod 2^64`
   * (the exact inverse of mulShiftAdd; KVM's guest → host TSC); fails where
   * there is none. `mult` ≥ 1.
   */
  | { readonly kind: "mulShiftAddInverse"; readonly mult: bigint; readonly shift: number; readonly add: bigint }
  /** `(x + add) mod 2^bits` (an Arm counter offset at the counter's width). Never fails. */
  | { readonly kind: "addMask"; readonly add: bigint; readonly bits: number }
  /**
   * Anything else, one value at a time in JavaScript: `undefined` = failed. It
   * runs in the middle of a batch, so it must be plain arithmetic: it must not
   * itself convert through a batch or stream converter (they share the kernels' memory).
   */
  | { readonly kind: "each"; convert(value: bigint): bigint | undefined };

/** A codec's batch form of one epoch: the operation for each direction. */
export interface BatchMapping {
  /** `from` → `to`, bit-identical to the epoch's `MappingFunction.forward`. */
  readonly forward: BatchOp;
  /** `to` → `from`, bit-identical to the epoch's `MappingFunction.inverse`. */
  readonly inverse: BatchOp;
}

function checkShift(shift: number): void {
  if (!Number.isInteger(shift) || shift < 0 || shift > 63) throw new ClocksourceError("INVALID_ARGUMENT", `shift must be in 0..63, got ${shift}`);
}

/** Validates an operation's parameters. @throws ClocksourceError `INVALID_ARGUMENT`, `INVALID_U64` */
export function checkBatchOp(op: BatchOp): BatchOp {
  switch (op.kind) {
    case "mulShiftAdd":
    case "mulShiftAddInverse":
      assertU64(op.mult, "mult");
      assertU64(op.add, "add");
      checkShift(op.shift);
      if (op.kind === "mulShiftAddInverse" && op.mult === 0n) throw new ClocksourceError("INVALID_ARGUMENT", "mulShiftAddInverse needs mult ≥ 1");
      return op;
    case "addMask":
      assertU64(op.add, "add");
      if (!Number.isInteger(op.bits) || op.bits < 1 || op.bits > 64) throw new ClocksourceError("INVALID_ARGUMENT", `bits must be in 1..64, got ${op.bits}`);
      return op;
    case "each":
      if (typeof op.convert !== "function") throw new ClocksourceError("INVALID_ARGUMENT", "an `each` batch operation needs a convert function");
      return op;
    default:
      throw new ClocksourceError("INVALID_ARGUMENT", `unknown batch operation ${JSON.stringify((op as { kind?: unknown }).kind)}`);
  }
}

/** The BigInt reference of an operation on one u64: the result, or undefined where it fails. */
export function applyBatchOp(op: BatchOp, x: bigint): bigint | undefined {
  switch (op.kind) {
    case "mulShiftAdd":
      return BigInt.asUintN(64, ((x * op.mult) >> BigInt(op.shift)) + op.add);
    case "mulShiftAddInverse":
      return mulShiftAddInverse(x, op.mult, op.shift, op.add);
    case "addMask":
      return BigInt.asUintN(op.bits, x + op.add);
    case "each":
      return op.convert(x);
  }
}

/**
 * An operation made ready to run on core's kernel memory: `run` converts
 * the u64s at byte offset `ptr` (n of them) in place — all, or with `masked`
 * only those whose i32 at `status + 4i` equals `e` — writes `fail` to the
 * status of each failed value (left unchanged) and returns how many failed.
 */
export interface PreparedBatchOp {
  readonly op: BatchOp;
  run(ptr: number, status: number, n: number, e: number, fail: number, masked: boolean): number;
}

const i64 = (v: bigint) => BigInt.asIntN(64, v);

/** Prepares an operation for {@link PreparedBatchOp.run} on `k`'s memory. @throws like {@link checkBatchOp} */
export function prepareBatchOp(op: BatchOp, k: U64Kernels): PreparedBatchOp {
  checkBatchOp(op);
  switch (op.kind) {
    case "mulShiftAdd": {
      const [m, s, a] = [i64(op.mult), BigInt(op.shift), i64(op.add)];
      return { op, run: (ptr, st, n, e, fail, masked) => (masked ? k.mulShiftAddMasked : k.mulShiftAddAll)(ptr, n, st, e, fail, m, s, a) };
    }
    case "addMask": {
      const a = i64(op.add);
      const mask = i64((1n << BigInt(op.bits)) - 1n);
      return { op, run: (ptr, st, n, e, fail, masked) => (masked ? k.addMaskMasked : k.addMaskAll)(ptr, n, st, e, fail, a, mask) };
    }
    case "mulShiftAddInverse": {
      const r = op.mult;
      // The divisor normalised so that its top bit is set, and its reciprocal (see the kernel).
      const s = BigInt(r >> 32n === 0n ? 32 + Math.clz32(Number(r)) : Math.clz32(Number(r >> 32n)));
      const d = BigInt.asUintN(64, r << s);
      const v = ((1n << 128n) - 1n) / d - (1n << 64n);
      const args = [
        i64(op.add),
        BigInt(op.shift),
        op.shift !== 0 ? 1 : 0,
        i64(r),
        i64(r - 1n), // mult·(2^64 − 1) = (mult − 1)·2^64 + (2^64 − mult)
        i64(BigInt.asUintN(64, -r)),
        s,
        s !== 0n ? 1 : 0,
        i64(d),
        i64(v),
      ] as const;
      return { op, run: (ptr, st, n, e, fail, masked) => (masked ? k.mulShiftAddInverseMasked : k.mulShiftAddInverseAll)(ptr, n, st, e, fail, ...args) };
    }
    case "each": {
      const convert = op.convert;
      const values = new BigUint64Array(k.memory.buffer);
      const status = new Int32Array(k.memory.buffer);
      return {
        op,
        run(ptr, st, n, e, fail, masked) {
          let failures = 0;
          const v0 = ptr >> 3;
          const s0 = st >> 2;
          for (let i = 0; i < n; i++) {
            if (masked && status[s0 + i] !== e) continue;
            const r = convert(values[v0 + i] as bigint);
            if (r === undefined) {
              status[s0 + i] = fail;
              failures++;
            } else values[v0 + i] = r;
          }
          return failures;
        },
      };
    }
  }
}
