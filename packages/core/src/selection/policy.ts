import { ClocksourceError } from "../errors.js";

/** How the user steers selection. Every field is optional. */
export interface SelectionPolicy {
  /** Backend ids to choose first, in order, when usable (`--backend`, `CLOCKSOURCE_BACKEND`). */
  readonly prefer?: readonly string[];
  /** Backend ids never to choose (`CLOCKSOURCE_EXCLUDE`, comma-separated). */
  readonly exclude?: readonly string[];
  /** Only choose a backend whose guest ↔ host mapping is exact (`CLOCKSOURCE_REQUIRE_EXACT=1`). */
  readonly requireExactMapping?: boolean;
  /** Where the paravirtual host agent listens (`CLOCKSOURCE_AGENT`), e.g. `unix:/run/clocksource.sock`. */
  readonly agentEndpoint?: string;
  /** The shared token the agent requires (`CLOCKSOURCE_AGENT_TOKEN_FILE`): a file path, never the token itself. */
  readonly agentTokenFile?: string;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  return items.length > 0 ? items : undefined;
}

/**
 * Reads a policy from the environment: `CLOCKSOURCE_BACKEND` (one id, or a
 * comma-separated preference list), `CLOCKSOURCE_EXCLUDE`,
 * `CLOCKSOURCE_REQUIRE_EXACT` (`1`/`true`/`yes` or `0`/`false`/`no`), `CLOCKSOURCE_AGENT` and `CLOCKSOURCE_AGENT_TOKEN_FILE`.
 * @throws ClocksourceError `INVALID_ARGUMENT` on an unreadable boolean
 */
export function policyFromEnv(env: Record<string, string | undefined> = process.env): SelectionPolicy {
  const out: { -readonly [K in keyof SelectionPolicy]: SelectionPolicy[K] } = {};
  const prefer = list(env.CLOCKSOURCE_BACKEND);
  if (prefer) out.prefer = prefer;
  const exclude = list(env.CLOCKSOURCE_EXCLUDE);
  if (exclude) out.exclude = exclude;
  const exact = env.CLOCKSOURCE_REQUIRE_EXACT?.trim().toLowerCase();
  if (exact !== undefined && exact !== "") {
    if (["1", "true", "yes"].includes(exact)) out.requireExactMapping = true;
    else if (["0", "false", "no"].includes(exact)) out.requireExactMapping = false;
    else throw new ClocksourceError("INVALID_ARGUMENT", `CLOCKSOURCE_REQUIRE_EXACT must be 1/true/yes or 0/false/no, got ${JSON.stringify(env.CLOCKSOURCE_REQUIRE_EXACT)}`);
  }
  const agent = env.CLOCKSOURCE_AGENT?.trim();
  if (agent) out.agentEndpoint = agent;
  const tokenFile = env.CLOCKSOURCE_AGENT_TOKEN_FILE?.trim();
  if (tokenFile) out.agentTokenFile = tokenFile;
  return out;
}

/** Combines policies: fields of `override` win over `base`. */
export function mergePolicies(base: SelectionPolicy, override: SelectionPolicy): SelectionPolicy {
  return { ...base, ...Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined)) };
}
