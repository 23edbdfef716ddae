/**
 * Exact KVM x86 TSC offset/scaling arithmetic (BigInt reference).
 *
 * KVM makes the guest see `guest = ((host × ratio) >> frac) + offset (mod 2^64)`,
 * the product taken at 128 bits and truncated to 64 after the shift, exactly as
 * `kvm_scale_tsc()`/`mul_u64_u64_shr()` do. `frac` is the number of fractional
 * bits of the ratio: 48 on Intel VMX, 32 on AMD SVM; `ratio == 2^frac` is unscaled.
 *
 * Inverse semantics (guest → host), stated once here and relied on everywhere:
 * - Let `S(h) = floor(h × ratio / 2^frac)` over the integers (no wrap) and
 *   `u(g) = (g − offset) mod 2^64`: the guest value measured from the point the
 *   guest counter had at host tick 0. Guest values are ordered by `u`.
 * - `inverse(g)` is the SMALLEST host tick `h` in [0, 2^64) with `S(h) ≥ u(g)`,
 *   i.e. `ceil(u(g) × 2^frac / ratio)`; "forward(h) ≥ g" in the guest's order.
 * - When no such `h` exists (`u(g) > S(2^64 − 1)`: the guest value lies after
 *   the host counter would wrap, possible only when the guest runs slower than
 *   the host), `inverse` throws `OUT_OF_RANGE`.
 * - Identities (property-tested): `inverse(forward(h)) ≤ h` for every host `h`;
 *   `forward(inverse(g)) == g` for every `g = forward(h)` with `S(h) < 2^64`
 *   (every reachable guest value unless the guest runs faster than the host and
 *   its counter has wrapped relative to the offset, which takes 2^64 guest ticks).
 */
import { ClocksourceError, U64_MAX, assertU64, wrapU64 } from "@clocksource/core/mapping";

/** One vCPU's TSC parameters, as KVM's debugfs shows them. */
export interface KvmTscParams {
  /** `tsc-offset` (`%lld`): signed 64-bit; added mod 2^64. */
  readonly offset: bigint;
  /** `tsc-scaling-ratio` (`%llu`): fixed point with `fracBits` fractional bits, ≥ 1. */
  readonly ratio: bigint;
  /** `tsc-scaling-ratio-frac-bits`: 48 (VMX) or 32 (SVM); 0..63 accepted. */
  readonly fracBits: number;
}

/** Fractional bits of the TSC ratio per virtualization extension. */
export const KVM_TSC_FRAC_BITS = { vmx: 48, svm: 32 } as const;
/** Largest ratio each extension accepts (`KVM_VMX_TSC_MULTIPLIER_MAX`, `SVM_TSC_RATIO_MAX`). */
export const KVM_TSC_RATIO_MAX = { vmx: 0xffff_ffff_ffff_ffffn, svm: 0xff_ffff_ffffn } as const;

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/**
 * Validates parameters.
 * @throws ClocksourceError `INVALID_ARGUMENT`
 */
export function assertKvmTscParams(p: KvmTscParams): KvmTscParams {
  if (typeof p.offset !== "bigint" || p.offset < I64_MIN || p.offset > I64_MAX) throw new ClocksourceError("INVALID_ARGUMENT", `tsc offset must be a signed 64-bit integer, got ${String(p.offset)}`);
  if (typeof p.ratio !== "bigint" || p.ratio < 1n || p.ratio > U64_MAX) throw new ClocksourceError("INVALID_ARGUMENT", `tsc scaling ratio must be in 1..2^64-1, got ${String(p.ratio)}`);
  if (!Number.isInteger(p.fracBits) || p.fracBits < 0 || p.fracBits > 63) throw new ClocksourceError("INVALID_ARGUMENT", `frac bits must be in 0..63, got ${p.fracBits}`);
  return p;
}

/** Unscaled parameters (`ratio = 2^frac`) with this offset. */
export function unscaledParams(offset: bigint, fracBits: number = KVM_TSC_FRAC_BITS.vmx): KvmTscParams {
  return assertKvmTscParams({ offset, ratio: 1n << BigInt(fracBits), fracBits });
}

/** True when the ratio is the identity (`2^frac`). */
export function isUnscaled(p: KvmTscParams): boolean {
  return p.ratio === 1n << BigInt(p.fracBits);
}

/** `mul_u64_u64_shr(tsc, ratio, frac)`: the 128-bit product shifted, truncated to 64 bits. */
export function scaleTsc(tsc: bigint, ratio: bigint, fracBits: number): bigint {
  return wrapU64((tsc * ratio) >> BigInt(fracBits));
}

/** Host TSC → guest TSC, as the CPU computes it for the guest. */
export function kvmForward(host: bigint, p: KvmTscParams): bigint {
  return wrapU64(scaleTsc(host, p.ratio, p.fracBits) + p.offset);
}

/** `S(2^64 − 1)` over the integers: the largest scaled value a 64-bit host tick reaches. */
export function scaledMax(p: KvmTscParams): bigint {
  return (U64_MAX * p.ratio) >> BigInt(p.fracBits);
}

/**
 * Guest TSC → the smallest host TSC whose guest value is ≥ it (see the module docs).
 * @throws ClocksourceError `OUT_OF_RANGE` when the value lies after the host counter's wrap
 */
export function kvmInverse(guest: bigint, p: KvmTscParams): bigint {
  const u = wrapU64(guest - p.offset);
  const x = u << BigInt(p.fracBits);
  if (x > U64_MAX * p.ratio) throw new ClocksourceError("OUT_OF_RANGE", `guest TSC ${guest} has no host tick below 2^64 (it lies after the host counter wraps)`);
  return (x + p.ratio - 1n) / p.ratio;
}

/** `mul_s64_u64_shr()`: the sign is taken off, the magnitude scaled, the sign put back (truncation toward zero). */
function mulS64U64Shr(a: bigint, b: bigint, shift: number): bigint {
  // abs(S64_MIN) is 2^63 when read back as u64, as in the kernel.
  const mag = a < 0n ? -a : a;
  const r = scaleTsc(mag, b, shift);
  return wrapU64(a < 0n ? -r : r);
}

function toI64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/**
 * The parameters KVM programs for a nested (L2) guest, from L1's parameters
 * (L0 host → L1) and the ones L1 set for L2 (L1 → L2), as
 * `kvm_calc_nested_tsc_offset()` / `kvm_calc_nested_tsc_multiplier()` compute:
 * `offset_02 = (l2 ratio default ? l1 offset : mul_s64_u64_shr(l1 offset, l2 ratio, frac)) + l2 offset`,
 * `ratio_02 = l2 ratio default ? l1 ratio : mul_u64_u64_shr(l1 ratio, l2 ratio, frac)`.
 * The result maps L0 host ticks straight to L2 ticks, the way the hardware does;
 * because of rounding it need not equal applying L1 then L2 one after the other.
 * @throws ClocksourceError `INVALID_ARGUMENT` when the frac bits differ (one CPU has one format)
 */
export function composeNested(l1: KvmTscParams, l2: KvmTscParams): KvmTscParams {
  assertKvmTscParams(l1);
  assertKvmTscParams(l2);
  if (l1.fracBits !== l2.fracBits) throw new ClocksourceError("INVALID_ARGUMENT", `nested TSC parameters must share frac bits (${l1.fracBits} vs ${l2.fracBits})`);
  const n = l1.fracBits;
  const l2Default = isUnscaled(l2);
  const scaledOffset = l2Default ? wrapU64(l1.offset) : mulS64U64Shr(l1.offset, l2.ratio, n);
  const offset = toI64(scaledOffset + l2.offset);
  const ratio = l2Default ? l1.ratio : scaleTsc(l1.ratio, l2.ratio, n);
  if (ratio === 0n) throw new ClocksourceError("INVALID_ARGUMENT", "the nested TSC ratio rounds to 0");
  return { offset, ratio, fracBits: n };
}

/** A mapping for one set of parameters: single values (BigInt) plus checked input. */
export class KvmTscMapping {
  readonly params: KvmTscParams;

  constructor(params: KvmTscParams) {
    this.params = assertKvmTscParams(params);
  }

  /** Host TSC → guest TSC. @throws ClocksourceError `INVALID_U64` */
  forward(host: bigint): bigint {
    return kvmForward(assertU64(host, "host TSC"), this.params);
  }

  /** Guest TSC → smallest host TSC (see the module docs). @throws ClocksourceError `INVALID_U64`, `OUT_OF_RANGE` */
  inverse(guest: bigint): bigint {
    return kvmInverse(assertU64(guest, "guest TSC"), this.params);
  }
}
