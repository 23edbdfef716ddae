/**
 * Turning KVM TSC parameters seen by polling (`kvm-mapping --watch`) into
 * mapping-file epochs whose validity is in the guest (source) TSC domain.
 *
 * A set of parameters is in effect over a stretch of HOST time; the guest
 * values it produces are KVM's forward map of that stretch, which is
 * increasing modulo 2^64. A guest TSC can be written by the guest itself (KVM
 * turns the write into a new offset), so it can sit just below 2^64 and wrap
 * inside one epoch: the guest values are then `[start, 2^64) ∪ [0, end]`, which
 * one `[validFrom, validUntil)` cannot hold. Such an epoch is written as two
 * file epochs with the same parameters (same params ⇒ the same conversion,
 * whichever of the two a value falls in). The stretch of one epoch is assumed
 * shorter than 2^64 guest ticks (about two centuries at 3 GHz).
 */
import type { EpochBoundary, EpochInput } from "@clocksource/core";
import { kvmForward, type KvmTscParams } from "./kvm-tsc-mapping.js";

const TWO_64 = 1n << 64n;
const U64_MAX = TWO_64 - 1n;

/** One set of parameters as polling saw it, bounded by host TSC reads. */
export interface ObservedKvmEpoch {
  readonly vcpus: ReadonlyMap<number, KvmTscParams>;
  /** Host TSC at the start of the poll window in which these parameters appeared; null: already in effect when watching began. */
  readonly hostFrom: bigint | null;
  /** Host TSC just before the read that first found them. */
  readonly hostFirstSeen: bigint;
  /** Host TSC at the end of the poll window in which they were replaced; null while they are current. */
  readonly hostUntil: bigint | null;
  /** Host TSC just before the latest read that found them. */
  readonly hostLastSeen: bigint;
}

/** A half-open piece `[from, until)` of the guest TSC range; `until` may be 2^64. */
export interface GuestRange {
  readonly from: bigint;
  readonly until: bigint;
}

/** The pieces one vCPU's guest values over host `[a, b]` occupy (`openLow`: also everything before; `openHigh`: also everything after). */
function arcPieces(p: KvmTscParams, a: bigint, b: bigint, openLow: boolean, openHigh: boolean): GuestRange[] {
  const start = kvmForward(a, p);
  const end = kvmForward(b, p);
  if (end >= start) return [{ from: openLow ? 0n : start, until: openHigh ? TWO_64 : end + 1n }];
  // Wrapped past 2^64. After the wrap the values climb from 0 again; they can reach `start` only
  // after 2^64 ticks, so the piece after the wrap stops there, even when open-ended. Values from
  // before watching began (openLow) lie below `start` before the wrap: that history is not kept.
  const after = openHigh ? start : end + 1n < start ? end + 1n : start;
  return [
    { from: start, until: TWO_64 },
    { from: 0n, until: after },
  ];
}

/**
 * Sorted, non-empty pieces, overlapping ones merged. Pieces that only touch stay
 * apart, so a wrap stays visible in the file as the point where one piece ends
 * and the next begins (the same parameters cover both).
 */
function merge(pieces: readonly GuestRange[]): GuestRange[] {
  const sorted = pieces.filter((r) => r.from < r.until).sort((x, y) => (x.from < y.from ? -1 : x.from > y.from ? 1 : 0));
  const out: { from: bigint; until: bigint }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from < last.until) {
      if (r.until > last.until) last.until = r.until;
    } else out.push({ from: r.from, until: r.until });
  }
  return out;
}

/**
 * The guest TSC values an observed epoch can have produced, over every vCPU,
 * as disjoint pieces in the order the guest produced them (the piece holding
 * the epoch's first value first; after a wrap, the piece from 0 next).
 * An epoch still current is open-ended; one found at start-up reaches down to 0
 * unless its guest TSC has wrapped since.
 */
export function epochGuestRanges(e: ObservedKvmEpoch): GuestRange[] {
  const a = e.hostFrom ?? e.hostFirstSeen;
  const b = e.hostUntil ?? e.hostLastSeen;
  const pieces: GuestRange[] = [];
  for (const p of e.vcpus.values()) pieces.push(...arcPieces(p, a, b < a ? a : b, e.hostFrom === null, e.hostUntil === null));
  const merged = merge(pieces);
  const first = e.vcpus.values().next().value;
  if (!first || merged.length < 2) return merged;
  const anchor = kvmForward(a, first);
  const i = merged.findIndex((r) => r.from <= anchor && anchor < r.until);
  return i <= 0 ? merged : [...merged.slice(i), ...merged.slice(0, i)];
}

/**
 * The guest-domain image of an epoch switch window: every value the old or
 * the new parameters can have produced between host TSC `hostFrom` (the last
 * sighting of the old) and `hostUntil` (the end of the poll that found the new),
 * as `[sourceFrom, sourceUntil)`. When the window's values straddle the 2^64
 * wrap it is the whole range (a boundary is one interval).
 */
export function switchWindowImage(
  oldParams: ReadonlyMap<number, KvmTscParams>,
  newParams: ReadonlyMap<number, KvmTscParams>,
  hostFrom: bigint,
  hostUntil: bigint,
): { readonly sourceFrom: bigint; readonly sourceUntil: bigint } {
  const b = hostUntil < hostFrom ? hostFrom : hostUntil;
  const pieces: GuestRange[] = [];
  for (const p of [...oldParams.values(), ...newParams.values()]) pieces.push(...arcPieces(p, hostFrom, b, false, false));
  const merged = merge(pieces);
  const from = merged[0]?.from ?? 0n;
  const until = merged[merged.length - 1]?.until ?? 0n;
  // sourceUntil is a u64: 2^64 (the end of the range) is written as its largest value.
  return { sourceFrom: from, sourceUntil: until > U64_MAX ? U64_MAX : until };
}

/** An observed epoch with what a mapping file records about its sightings. */
export interface WatchedKvmEpoch extends ObservedKvmEpoch {
  /** ISO 8601: first sighting. */
  readonly observedAt: string;
  /** ISO 8601: latest sighting. */
  readonly lastObservedAt: string;
  /**
   * The switch into this epoch, null for the first: its wall-clock window, the
   * parameters it replaced and the host TSC at the window's end (its start is `hostFrom`).
   */
  readonly switchedBetween: {
    readonly notBefore: string;
    readonly notAfter: string;
    readonly previous: ReadonlyMap<number, KvmTscParams>;
    readonly hostWindowEnd: bigint;
  } | null;
}

/**
 * Mapping-file epochs for a watch's observed epochs: one per guest-range piece
 * (two for an epoch whose guest TSC wrapped), the switch boundary on the first.
 */
export function kvmEpochInputs(epochs: readonly WatchedKvmEpoch[]): EpochInput<KvmTscParams>[] {
  const out: EpochInput<KvmTscParams>[] = [];
  for (const e of epochs) {
    let boundary: EpochBoundary | null = null;
    if (e.switchedBetween && e.hostFrom !== null) {
      const image = switchWindowImage(e.switchedBetween.previous, e.vcpus, e.hostFrom, e.switchedBetween.hostWindowEnd);
      boundary = { notBefore: e.switchedBetween.notBefore, notAfter: e.switchedBetween.notAfter, ...image };
    }
    epochGuestRanges(e).forEach((r, i) => {
      out.push({
        observedAt: e.observedAt,
        lastObservedAt: e.lastObservedAt,
        validFrom: r.from === 0n ? null : r.from,
        validUntil: r.until >= TWO_64 ? null : r.until,
        boundary: i === 0 ? boundary : null,
        vcpus: e.vcpus,
      });
    });
  }
  return out;
}
