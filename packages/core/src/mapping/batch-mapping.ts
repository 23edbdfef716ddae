/**
 * Batch conversion through a resolved mapping: many values at once, each
 * value's epoch chosen exactly as {@link ResolvedMapping.forward} and
 * {@link ResolvedMapping.inverse} choose it, without a BigInt per value where
 * the kind's codec declares its arithmetic ({@link MappingCodec.createBatch}).
 *
 * The epoch table lives inside the batch path, in core's kernel memory:
 * - forward: a range lookup per value picks the last epoch whose
 *   `[validFrom, validUntil)` holds it (and flags values an earlier epoch holds
 *   too), then each epoch's operation runs on its own values. A value its
 *   epoch's operation fails on goes to the exact path (which may find an
 *   earlier epoch, as `resolveMapping` does).
 * - inverse: every epoch's operation runs on every value, newest first; the
 *   newest epoch whose result lies in its own range claims the value, and a
 *   claim by an earlier epoch too marks it ambiguous (a switch window).
 * A single open-ended epoch, or a forced one (`--epoch`), is one operation
 * over the whole batch. Kinds without a batch hook, mappings with more epochs
 * than the table holds, and runtimes without WebAssembly convert value by
 * value through the resolved mapping: same results, slower.
 */
import { ClocksourceError, isClocksourceError } from "../errors.js";
import { prepareBatchOp, type PreparedBatchOp } from "../math/batch-ops.js";
import { CELL, KERNEL_BATCH, KERNEL_EPOCHS_MAX, REGION } from "../math/wasm-kernel-layout.js";
import { u64Kernels, type U64Kernels } from "../math/wasm-u64-kernels.js";
import { withinRange, type Conversion, type MappingEpoch, type ResolvedMapping } from "./mapping-file.js";

/** Converts a batch of source-domain values, choosing each value's epoch like resolveMapping does. */
export interface BatchConverter {
  /**
   * Converts input[i] → output[i] for i < n (the arrays may alias). status[i] =
   * epoch index used (≥ 0), or -1 when no epoch covers the value (output[i] is
   * then left = input[i]). Returns counts: `outside` values no epoch covers,
   * `ambiguous` values an earlier epoch also covers (an epoch switch window, or
   * a clock that went back). Bit-identical to ResolvedMapping.forward/inverse
   * for every covered value.
   * @param n how many values (default `input.length`)
   * @throws ClocksourceError `INVALID_ARGUMENT` when n exceeds an array's length
   */
  convert(input: BigUint64Array, output: BigUint64Array, status: Int32Array, n?: number): { outside: number; ambiguous: number };
}

/** The counts a conversion returns. */
export interface BatchCounts {
  outside: number;
  ambiguous: number;
}

/**
 * Converts the values in core's kernel memory in place: `n` u64s at
 * `REGION.values`, statuses to `REGION.status` (the {@link BatchConverter}
 * contract, without copies). For the streaming converter in this package.
 * @internal
 */
export interface RegionConverter {
  convertRegion(n: number): BatchCounts;
}

let tableOwner: object | undefined;

function unlimited(e: MappingEpoch): boolean {
  return (e.validFrom === null || e.validFrom === 0n) && e.validUntil === null;
}

/**
 * The in-place converter over core's kernel memory, or null when this
 * mapping must convert value by value (no WebAssembly, an epoch without
 * batch operations, more epochs than the table holds).
 * @internal
 */
export function regionConverter(mapping: ResolvedMapping, direction: "forward" | "inverse"): RegionConverter | null {
  const k = u64Kernels();
  const epochs = mapping.file.epochs;
  const ops = mapping.batch;
  if (!k || !ops || ops.length !== epochs.length || epochs.length > KERNEL_EPOCHS_MAX || ops.some((o) => o === null)) return null;
  const prepared = ops.map((o) => prepareBatchOp((o as NonNullable<typeof o>)[direction], k));
  return new KernelRegionConverter(k, mapping, direction, prepared);
}

class KernelRegionConverter implements RegionConverter {
  private readonly u64: BigUint64Array;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly single: number | undefined;
  private readonly exact: (v: bigint) => Conversion;

  constructor(
    private readonly k: U64Kernels,
    private readonly mapping: ResolvedMapping,
    private readonly direction: "forward" | "inverse",
    private readonly ops: readonly PreparedBatchOp[],
  ) {
    this.u64 = new BigUint64Array(k.memory.buffer);
    this.i32 = new Int32Array(k.memory.buffer);
    this.u8 = new Uint8Array(k.memory.buffer);
    const epochs = mapping.file.epochs;
    // One operation over the whole batch: a forced epoch, or one epoch that holds every value.
    this.single = mapping.forcedEpoch ?? (epochs.length === 1 && unlimited(epochs[0] as MappingEpoch) ? 0 : undefined);
    this.exact = direction === "forward" ? mapping.forward : mapping.inverse;
  }

  /** Writes this mapping's epoch table, unless it is there already (the table region is shared). */
  private table(): void {
    if (tableOwner === this) return;
    const base = REGION.epochs >> 3;
    this.mapping.file.epochs.forEach((e, i) => {
      this.u64[base + 3 * i] = e.validFrom ?? 0n;
      this.u64[base + 3 * i + 1] = e.validUntil ?? 0n;
      this.u64[base + 3 * i + 2] = e.validUntil === null ? 1n : 0n;
    });
    tableOwner = this;
  }

  convertRegion(n: number): BatchCounts {
    if (n === 0) return { outside: 0, ambiguous: 0 };
    const S = REGION.status >> 2;
    if (this.single !== undefined) {
      const e = this.single;
      this.i32.fill(e, S, S + n);
      return { outside: (this.ops[e] as PreparedBatchOp).run(REGION.values, REGION.status, n, e, -1, false), ambiguous: 0 };
    }
    return this.direction === "forward" ? this.forward(n) : this.inverse(n);
  }

  private forward(n: number): BatchCounts {
    this.table();
    const epochs = this.mapping.file.epochs.length;
    let ambiguous = this.k.classifyEpochs(REGION.values, n, REGION.status, REGION.ambiguous, REGION.epochs, epochs);
    let outside = this.i32[CELL.outside >> 2] as number;
    const lo = this.i32[CELL.epochMin >> 2] as number;
    const hi = this.i32[CELL.epochMax >> 2] as number;
    // Unmasked only when every value has the one epoch.
    const masked = lo !== hi || outside > 0;
    let failed = 0;
    for (let e = lo; e <= hi; e++) failed += (this.ops[e] as PreparedBatchOp).run(REGION.values, REGION.status, n, e, -2, masked);
    if (failed === 0) return { outside, ambiguous };
    // The chosen epoch's operation has no result for these: the exact path decides (an earlier epoch, or none).
    const S = REGION.status >> 2;
    const V = REGION.values >> 3;
    for (let i = 0; i < n; i++) {
      if (this.i32[S + i] !== -2) continue;
      if (this.u8[REGION.ambiguous + i] === 1) ambiguous--;
      const c = this.tryExact(this.u64[V + i] as bigint);
      if (c === undefined) {
        this.i32[S + i] = -1;
        outside++;
        continue;
      }
      this.u64[V + i] = c.value;
      this.i32[S + i] = c.epoch;
      if (c.ambiguous) ambiguous++;
    }
    return { outside, ambiguous };
  }

  private inverse(n: number): BatchCounts {
    const epochs = this.mapping.file.epochs;
    const bytes = n * 8;
    this.u8.copyWithin(REGION.saved, REGION.values, REGION.values + bytes);
    this.i32.fill(-1, REGION.status >> 2, (REGION.status >> 2) + n);
    this.u8.fill(0, REGION.ambiguous, REGION.ambiguous + n);
    this.i32[CELL.ambiguous >> 2] = 0;
    let claimed = 0;
    for (let e = epochs.length - 1; e >= 0; e--) {
      const ep = epochs[e] as MappingEpoch;
      this.u8.copyWithin(REGION.scratch, REGION.saved, REGION.saved + bytes);
      this.i32.fill(0, REGION.scratchStatus >> 2, (REGION.scratchStatus >> 2) + n);
      (this.ops[e] as PreparedBatchOp).run(REGION.scratch, REGION.scratchStatus, n, 0, -1, false);
      const from = BigInt.asIntN(64, ep.validFrom ?? 0n);
      const until = BigInt.asIntN(64, ep.validUntil ?? 0n);
      claimed += this.k.claimEpoch(REGION.scratch, REGION.scratchStatus, REGION.values, REGION.status, REGION.ambiguous, n, from, until, ep.validUntil === null ? 1 : 0, e);
    }
    return { outside: n - claimed, ambiguous: this.i32[CELL.ambiguous >> 2] as number };
  }

  private tryExact(v: bigint): Conversion | undefined {
    return withinRange(() => this.exact(v));
  }
}

function checkCount(input: BigUint64Array, output: BigUint64Array, status: Int32Array, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > input.length || n > output.length || n > status.length) {
    throw new ClocksourceError("INVALID_ARGUMENT", `cannot convert ${n} values: input holds ${input.length}, output ${output.length}, status ${status.length}`);
  }
}

/** Value by value through the resolved mapping (the exact path). */
function perValue(mapping: ResolvedMapping, direction: "forward" | "inverse"): BatchConverter {
  const one = direction === "forward" ? mapping.forward : mapping.inverse;
  return {
    convert(input, output, status, n = input.length) {
      checkCount(input, output, status, n);
      let outside = 0;
      let ambiguous = 0;
      for (let i = 0; i < n; i++) {
        const v = input[i] as bigint;
        try {
          const c = one(v);
          output[i] = c.value;
          status[i] = c.epoch;
          if (c.ambiguous) ambiguous++;
        } catch (e) {
          if (!isClocksourceError(e, "OUT_OF_RANGE")) throw e;
          output[i] = v;
          status[i] = -1;
          outside++;
        }
      }
      return { outside, ambiguous };
    },
  };
}

/**
 * A batch converter for one direction of a resolved mapping (see the module
 * docs): `forward` converts `from` → `to` values, `inverse` `to` → `from`.
 * Runs on core's WebAssembly kernels when every epoch has batch operations,
 * else value by value; the results are the same either way.
 */
export function batchConverter(mapping: ResolvedMapping, direction: "forward" | "inverse"): BatchConverter {
  if (direction !== "forward" && direction !== "inverse") throw new ClocksourceError("INVALID_ARGUMENT", `direction must be "forward" or "inverse", got ${JSON.stringify(direction)}`);
  const rc = regionConverter(mapping, direction);
  if (!rc) return perValue(mapping, direction);
  const k = u64Kernels() as U64Kernels;
  const values = new BigUint64Array(k.memory.buffer, REGION.values, KERNEL_BATCH);
  const statuses = new Int32Array(k.memory.buffer, REGION.status, KERNEL_BATCH);
  return {
    convert(input, output, status, n = input.length) {
      checkCount(input, output, status, n);
      const counts = { outside: 0, ambiguous: 0 };
      for (let start = 0; start < n; start += KERNEL_BATCH) {
        const m = Math.min(KERNEL_BATCH, n - start);
        values.set(input.subarray(start, start + m));
        const c = rc.convertRegion(m);
        counts.outside += c.outside;
        counts.ambiguous += c.ambiguous;
        output.set(values.subarray(0, m), start);
        status.set(statuses.subarray(0, m), start);
      }
      return counts;
    },
  };
}
