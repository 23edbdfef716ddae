import { buildMappingFile, DOMAIN, isClocksourceError, type EpochInput, type JsonObject, type MappingFile } from "@clocksource/core";
import { AgentError, type AgentClient } from "./client.js";
import { estimateOffset, type Estimate, type Exchange } from "./estimator.js";
import { paravirtBoundAt, paravirtCodec, type ParavirtParams } from "./mapping-codec.js";
import { floorDiv } from "./rational.js";

export interface SyncOptions {
  /** Exchanges to run (default 200). */
  readonly samples?: number;
  /** Pause between exchanges, ms (default 5: spreading them over time is what lets the drift be measured). */
  readonly intervalMs?: number;
  /** See {@link estimateOffset}. */
  readonly maxDriftPpm?: number;
  /** Called after each exchange. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops early (the exchanges so far are used). */
  readonly signal?: AbortSignal;
}

/** One sync session's data and estimate. */
export interface SyncResult {
  /** Exchanges with host stamps in ns (converted from counter ticks when the host clock is a counter). */
  readonly exchanges: readonly Exchange[];
  readonly estimate: Estimate;
  /** The host clock's domain (`host.monotonic`, `host.tsc`). */
  readonly hostDomain: string;
  /** Host clock ticks per second. */
  readonly hostFrequencyHz: bigint;
  readonly protocolVersion: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
}

const NS_PER_S = 1_000_000_000n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Host counter ticks → ns, exactly floored (the estimator widens every window by 1 ns for it). */
export function hostTicksToNs(ticks: bigint, hz: bigint): bigint {
  return hz === NS_PER_S ? ticks : floorDiv(ticks * NS_PER_S, hz);
}

/** The host domain's name for a clock kind. */
export function hostDomainOf(clock: "monotonic" | "tsc"): string {
  return clock === "tsc" ? DOMAIN.hostTsc : DOMAIN.hostMonotonic;
}

/**
 * Estimates from exchanges whose host stamps are in host clock ticks.
 * @throws ClocksourceError `INVALID_ARGUMENT` when none is usable
 */
export function estimateFromRaw(raw: readonly Exchange[], hostFrequencyHz: bigint, maxDriftPpm?: number): { exchanges: Exchange[]; estimate: Estimate } {
  const exchanges = raw.map((e) => (hostFrequencyHz === NS_PER_S ? e : { t1: e.t1, t2: hostTicksToNs(e.t2, hostFrequencyHz), t2x: hostTicksToNs(e.t2x, hostFrequencyHz), t3: e.t3 }));
  const estimate = estimateOffset(exchanges, {
    ...(maxDriftPpm !== undefined ? { maxDriftPpm } : {}),
    stampSlackNs: hostFrequencyHz === NS_PER_S ? 0n : 1n,
  });
  return { exchanges, estimate };
}

/**
 * Runs a sync session over a connected client, pacing itself below the
 * agent's announced rate limit, and estimates offset, drift and bound.
 * @throws AgentError when an exchange fails (after the client's retries), or
 *   `protocol` when the agent's stamps leave no usable exchange
 */
export async function runSyncSession(client: AgentClient, options: SyncOptions = {}): Promise<SyncResult> {
  const total = Math.max(1, options.samples ?? 200);
  const interval = Math.max(0, options.intervalMs ?? 5);
  const rate = client.welcome.rateLimitPerSecond;
  const startedAt = new Date();
  const started = performance.now();
  const raw: Exchange[] = [];
  for (let i = 0; i < total; i++) {
    if (options.signal?.aborted && raw.length > 0) break;
    if (i > 0 && interval > 0) await sleep(interval);
    if (rate > 0) {
      // Stay at 80% of the agent's limit on average.
      while ((raw.length + 1) * 1000 > 0.8 * rate * (performance.now() - started + 1)) await sleep(1);
    }
    raw.push(await client.exchange());
    options.onProgress?.(raw.length, total);
  }
  const hz = client.welcome.clockFrequencyHz;
  let est: { exchanges: Exchange[]; estimate: Estimate };
  try {
    est = estimateFromRaw(raw, hz, options.maxDriftPpm);
  } catch (e) {
    // Exchanges were made, so an unusable set is the agent's doing (stamps out of order).
    if (isClocksourceError(e, "INVALID_ARGUMENT")) throw new AgentError("protocol", `the agent's time stamps are unusable: ${e.message}`, { cause: e });
    throw e;
  }
  const { exchanges, estimate } = est;
  return { exchanges, estimate, hostDomain: hostDomainOf(client.welcome.clock), hostFrequencyHz: hz, protocolVersion: client.welcome.version, startedAt, endedAt: new Date() };
}

/** The mapping parameters of an estimate. */
export function paramsFromEstimate(est: Estimate, hostFrequencyHz: bigint): ParavirtParams {
  return {
    referenceGuestNs: est.referenceGuestNs,
    offsetNs: est.offsetNs,
    driftPpt: est.driftPpt,
    errorBoundNs: est.errorBoundNs,
    driftBoundPpt: est.driftBoundPpt,
    hostTicksPerSecond: hostFrequencyHz === NS_PER_S ? null : hostFrequencyHz,
  };
}

/** A mapping epoch from a session; `validFrom` null for the first epoch of a file. */
export function epochFromSession(result: SyncResult, validFrom: bigint | null): EpochInput<ParavirtParams> {
  const params = paramsFromEstimate(result.estimate, result.hostFrequencyHz);
  return {
    observedAt: result.endedAt.toISOString(),
    validFrom,
    errorBound: paravirtBoundAt(params, params.referenceGuestNs),
    params,
  };
}

/** Builds a mapping file (`guest.monotonic` → host domain) from session epochs. */
export function mappingFileFromSessions(sessions: readonly SyncResult[], producer: string, origin: JsonObject | null = null): MappingFile {
  const first = sessions[0];
  if (!first) throw new RangeError("no sessions");
  return buildMappingFile(paravirtCodec, {
    from: DOMAIN.guestMonotonic,
    to: first.hostDomain,
    producer,
    origin,
    epochs: sessions.map((s, i) => epochFromSession(s, i === 0 ? null : (s.exchanges[0] as Exchange).t1)),
  });
}
