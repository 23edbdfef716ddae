import { kvmForward, type KvmTscParams } from "./kvm-tsc-mapping.js";

/** Where an observed parameter switch lies, in the guest (source) TSC domain. */
export interface EpochSwitchBounds {
  /** Exclusive upper bound of guest values the old parameters can have produced. */
  readonly oldValidUntil: bigint;
  /** Inclusive lower bound of guest values the new parameters can have produced. */
  readonly newValidFrom: bigint;
  /** Guest values either set of parameters can have produced during the window: [from, until). */
  readonly sourceFrom: bigint;
  readonly sourceUntil: bigint;
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * Bounds an epoch switch seen by polling. The old parameters were last read
 * at a host TSC ≥ `hostFrom` (the start of that poll), the new ones first read
 * at a host TSC ≤ `hostUntil` (the end of the poll that saw them), so the
 * switch happened at some host tick in [hostFrom, hostUntil]. Guest values
 * are computed per vCPU with KVM's forward map; the bounds cover every vCPU.
 */
export function epochSwitchBounds(
  oldParams: ReadonlyMap<number, KvmTscParams>,
  newParams: ReadonlyMap<number, KvmTscParams>,
  hostFrom: bigint,
  hostUntil: bigint,
): EpochSwitchBounds {
  let oldMax = 0n;
  let oldMin = U64_MAX;
  for (const p of oldParams.values()) {
    const lo = kvmForward(hostFrom, p);
    const hi = kvmForward(hostUntil, p);
    if (hi > oldMax) oldMax = hi;
    if (lo < oldMin) oldMin = lo;
  }
  let newMin = U64_MAX;
  let newMax = 0n;
  for (const p of newParams.values()) {
    const lo = kvmForward(hostFrom, p);
    const hi = kvmForward(hostUntil, p);
    if (lo < newMin) newMin = lo;
    if (hi > newMax) newMax = hi;
  }
  const oldValidUntil = oldMax === U64_MAX ? U64_MAX : oldMax + 1n;
  const until = newMax > oldMax ? newMax : oldMax;
  return {
    oldValidUntil,
    newValidFrom: newMin,
    sourceFrom: newMin < oldMin ? newMin : oldMin,
    sourceUntil: until === U64_MAX ? U64_MAX : until + 1n,
  };
}
