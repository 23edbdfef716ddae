/**
 * Ordering the timer-frequency sources, strongest first:
 *
 * 1. the device tree's `clock-frequency` on the timer node (exact; the kernel
 *    uses it instead of CNTFRQ);
 * 2. the kernel log: an exact figure where a vendor kernel prints one, and the
 *    arch-timer banner, which is the rate the kernel actually uses but printed
 *    truncated to 10 kHz;
 * 3. on a live arm64 machine, `CNTFRQ_EL0` read through the native reader
 *    (exact, but firmware's value: a device tree may override it);
 * 4. on arm64 only, BogoMIPS (= 2 × rate / 10^6; heuristic, ±5 kHz).
 *
 * Within 2 and 3, an exact figure that agrees with the banner's truncation
 * comes first (it is the same rate, more precisely); one that disagrees comes
 * after the banner, so the kernel's word wins and the conflict shows.
 */
import type { Confidence } from "@clocksource/core";

/** One candidate value for the timer frequency. */
export interface FrequencyCandidate {
  readonly hz: number;
  readonly source: string;
  readonly confidence: Exclude<Confidence, "unknown">;
  readonly note: string;
  /** Where the true rate may lie: [hz, hz + uncertaintyHz). 0 for exact values. */
  readonly uncertaintyHz: number;
  readonly kind: "device-tree" | "log-exact" | "banner" | "cntfrq" | "bogomips";
}

/** True when an exact rate prints as the banner's truncated figure. */
export function agreesWithBanner(exactHz: number, bannerHz: number): boolean {
  return Math.floor(exactHz / 10_000) * 10_000 === bannerHz;
}

/** Orders candidates strongest first (see the module docs). Pure. */
export function orderFrequencyCandidates(candidates: readonly FrequencyCandidate[]): FrequencyCandidate[] {
  const dt = candidates.filter((c) => c.kind === "device-tree");
  const banner = candidates.find((c) => c.kind === "banner");
  const precise = candidates.filter((c) => c.kind === "log-exact" || c.kind === "cntfrq");
  const bogo = candidates.filter((c) => c.kind === "bogomips");
  const middle: FrequencyCandidate[] = [];
  if (banner) {
    middle.push(...precise.filter((c) => agreesWithBanner(c.hz, banner.hz)));
    middle.push(...candidates.filter((c) => c.kind === "banner"));
    middle.push(...precise.filter((c) => !agreesWithBanner(c.hz, banner.hz)));
  } else {
    middle.push(...precise);
  }
  return [...dt, ...middle, ...bogo];
}
