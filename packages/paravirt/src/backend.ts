import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ClocksourceError,
  clockDomain,
  nanosecondConverter,
  RATING,
  unusable,
  type BackendContext,
  type BackendVerdict,
  type ClockBackend,
  type ClockSource,
  type SelectionPolicy,
} from "@clocksource/core";
import { formatEndpoint, parseEndpoint } from "./endpoint.js";
import { errorBoundAt, offsetAt, type Estimate, type Exchange } from "./estimator.js";
import type { ChildRequest, ChildResponse } from "./sync-child.js";
import { estimateFromRaw, hostDomainOf } from "./sync-session.js";
import { floorDiv } from "./rational.js";

/** A clock source reading host time estimated from the local monotonic clock. */
export interface ParavirtClockSource extends ClockSource {
  /** The session estimate behind it. */
  readonly estimate: Estimate;
  /** The agent it was measured against. */
  readonly endpoint: string;
  /** Bound on |true host time − value| for a reading at local monotonic time `guestNs` (default: now), in ns. */
  errorBoundNs(guestNs?: bigint): bigint;
}

/** The outcome of asking the agent, cached per backend instance. */
export type AgentProbe =
  | { readonly ok: true; readonly endpoint: string; readonly estimate: Estimate; readonly hostDomain: string; readonly hostFrequencyHz: bigint; readonly version: number; readonly mappingAvailable: boolean }
  | { readonly ok: false; readonly endpoint: string; readonly reason: string };

/** Environment variable naming the token file the backend authenticates with. */
export const AGENT_TOKEN_ENV = "CLOCKSOURCE_AGENT_TOKEN_FILE";

/**
 * The selection policy as this backend reads it: core's policy, plus the
 * token file that goes with `agentEndpoint`. Pass it as the container's
 * `policy` (`createClockContainer({ policy: { agentEndpoint, agentTokenFile } })`);
 * core's merge keeps the extra field.
 */
export interface ParavirtPolicy extends SelectionPolicy {
  /** The token file for the agent at `agentEndpoint` (like `sync --token-file`). */
  readonly agentTokenFile?: string;
}

/**
 * The token file for the policy's agent. It comes from the policy; failing
 * that, from `CLOCKSOURCE_AGENT_TOKEN_FILE` only when the endpoint itself is
 * this process's `CLOCKSOURCE_AGENT` — the two variables are one setting.
 * An endpoint given in code (or read from another environment map) never
 * picks up a token file from this process's environment behind its back.
 */
export function agentTokenFileFor(policy: ParavirtPolicy, env: Record<string, string | undefined> = process.env): string | undefined {
  if (policy.agentTokenFile) return policy.agentTokenFile;
  const fromEnv = env[AGENT_TOKEN_ENV]?.trim();
  if (!fromEnv || !policy.agentEndpoint) return undefined;
  return env.CLOCKSOURCE_AGENT?.trim() === policy.agentEndpoint ? fromEnv : undefined;
}

export interface AgentProbeOptions {
  readonly tokenFile?: string;
  /** Exchanges in the probe session (default 48). */
  readonly samples?: number;
  readonly intervalMs?: number;
  /** Per-request timeout inside the child (default 500 ms). */
  readonly timeoutMs?: number;
  /** Hard limit for the whole child process (default 4000 ms). */
  readonly limitMs?: number;
}

function childScript(): string | undefined {
  const dir = dirname(fileURLToPath(import.meta.url));
  // From dist/ the script is beside us. From src/ (vitest runs sources) the
  // child still needs JavaScript: the build's, which the backend tests check
  // is not older than the sources (and `npm test` builds first).
  return [join(dir, "sync-child.js"), join(dir, "../dist/sync-child.js")].find((p) => existsSync(p));
}

/**
 * Runs a short sync session against the agent in a child process, blocking
 * for at most `limitMs`. Never throws: failures come back as `ok: false`.
 */
export function probeAgentSync(endpoint: string, options: AgentProbeOptions = {}): AgentProbe {
  let where = endpoint;
  try {
    where = formatEndpoint(parseEndpoint(endpoint));
  } catch (e) {
    return { ok: false, endpoint, reason: (e as Error).message };
  }
  const script = childScript();
  if (!script) return { ok: false, endpoint: where, reason: "the agent probe script (dist/sync-child.js) is missing: build the package (npx tsc -b)" };
  const req: ChildRequest = {
    endpoint: where,
    ...(options.tokenFile ? { tokenFile: options.tokenFile } : {}),
    samples: options.samples ?? 48,
    intervalMs: options.intervalMs ?? 1,
    timeoutMs: options.timeoutMs ?? 500,
  };
  const limit = options.limitMs ?? 4000;
  // node:child_process only when an agent is probed: it costs every probe of a machine without one several ms at start-up.
  const { spawnSync } = process.getBuiltinModule("node:child_process");
  const r = spawnSync(process.execPath, [script, JSON.stringify(req)], { encoding: "utf8", timeout: limit, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 8 * 1024 * 1024 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, endpoint: where, reason: code === "ETIMEDOUT" ? `the agent at ${where} did not complete a sync within ${limit} ms` : `cannot run the agent probe: ${r.error.message}` };
  }
  let out: ChildResponse;
  try {
    out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as ChildResponse;
  } catch {
    return { ok: false, endpoint: where, reason: `the agent probe gave no answer (exit ${r.status ?? r.signal}): ${r.stderr.trim().split("\n")[0] ?? ""}` };
  }
  if (!out.ok) return { ok: false, endpoint: where, reason: `${out.failure}: ${out.message}` };
  try {
    const raw: Exchange[] = out.exchanges.map(([t1, t2, t2x, t3]) => ({ t1: BigInt(t1), t2: BigInt(t2), t2x: BigInt(t2x), t3: BigInt(t3) }));
    const hz = BigInt(out.frequencyHz);
    const { estimate } = estimateFromRaw(raw, hz);
    return { ok: true, endpoint: where, estimate, hostDomain: hostDomainOf(out.clock), hostFrequencyHz: hz, version: out.version, mappingAvailable: out.mappingAvailable };
  } catch (e) {
    return { ok: false, endpoint: where, reason: `the agent's answers are unusable: ${(e as Error).message}` };
  }
}

/** Builds the clock source of a successful probe. */
export function paravirtClockSource(probe: Extract<AgentProbe, { ok: true }>, guestClock: () => bigint = () => process.hrtime.bigint()): ParavirtClockSource {
  const est = probe.estimate;
  const hz = probe.hostFrequencyHz;
  const isNs = hz === 1_000_000_000n;
  // Kernel mult/shift up to 2^32−1 Hz, exact division above (fast TSCs).
  const converter = nanosecondConverter(hz);
  const toHost = (g: bigint): bigint => {
    const ns = g + offsetAt(est, g);
    return isNs ? ns : floorDiv(ns * hz, 1_000_000_000n);
  };
  return {
    id: "paravirt",
    domain: clockDomain(probe.hostDomain, Number(hz), 64),
    frequencyHz: Number(hz),
    widthBits: 64,
    estimate: est,
    endpoint: probe.endpoint,
    now: () => {
      const v = toHost(guestClock());
      if (v < 0n) throw new ClocksourceError("OUT_OF_RANGE", "the estimated host time is negative");
      return v;
    },
    toNanoseconds: (ticks: bigint) => converter.toNanoseconds(ticks),
    errorBoundNs: (guestNs?: bigint) => errorBoundAt(est, guestNs ?? guestClock()),
  };
}

/**
 * The paravirtual backend: host time estimated over a byte stream from a host
 * agent (`clocksource agent`). Usable only when an endpoint is configured
 * (`policy.agentEndpoint`, i.e. `CLOCKSOURCE_AGENT`; its token file from
 * {@link agentTokenFileFor}) and the agent answers a
 * short sync session, run in a child process with a hard time limit because
 * `assess` is synchronous (docs/paravirt.md). The result is cached, so
 * `create` uses the same session.
 */
export class ParavirtBackend implements ClockBackend {
  readonly id = "paravirt";
  readonly description = "host time estimated from a host agent over a byte stream (clocksource agent), with an error bound";
  private readonly cache = new Map<string, AgentProbe>();

  private probe(policy: ParavirtPolicy, endpoint: string): AgentProbe {
    const tokenFile = agentTokenFileFor(policy);
    const key = `${endpoint}\0${tokenFile ?? ""}`;
    let p = this.cache.get(key);
    if (!p) {
      p = probeAgentSync(endpoint, tokenFile ? { tokenFile } : {});
      this.cache.set(key, p);
    }
    return p;
  }

  assess(context: BackendContext): BackendVerdict {
    const endpoint = context.policy.agentEndpoint;
    if (!endpoint) return unusable(["no agent endpoint configured (set CLOCKSOURCE_AGENT=unix:PATH | tcp:HOST:PORT | serial:PATH)"], "estimated");
    const p = this.probe(context.policy, endpoint);
    if (!p.ok) return unusable([`the agent at ${p.endpoint} did not answer: ${p.reason}`], "estimated");
    const e = p.estimate;
    const reasons = [
      `the agent at ${p.endpoint} answered (protocol v${p.version}, host clock ${p.hostDomain})`,
      `offset ${e.offsetNs} ns ± ${e.errorBoundNs} ns, drift ${e.driftPpm.toFixed(3)} ppm, from ${e.samplesUsed} of ${e.samplesValid} exchanges (min delay ${e.delayNs.min} ns)`,
    ];
    if (!e.consistent) reasons.push(...e.warnings);
    if (p.mappingAvailable) reasons.push("the agent also serves an exact mapping: `clocksource sync --out FILE` saves it");
    return { usable: true, rating: RATING.paravirtual, mapping: "estimated", reasons };
  }

  create(context: BackendContext): ParavirtClockSource {
    const endpoint = context.policy.agentEndpoint;
    if (!endpoint) throw new ClocksourceError("BACKEND_UNUSABLE", "paravirt: no agent endpoint configured (CLOCKSOURCE_AGENT)");
    const p = this.probe(context.policy, endpoint);
    if (!p.ok) throw new ClocksourceError("BACKEND_UNUSABLE", `paravirt: the agent at ${p.endpoint} did not answer: ${p.reason}`);
    return paravirtClockSource(p);
  }
}
