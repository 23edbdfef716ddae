import type { SelectionPolicy } from "@clocksource/core";

/**
 * The options of the commands that select a clock (`probe`, `now`): one flag
 * per `CLOCKSOURCE_*` variable, the flag winning over the variable.
 */
export const SELECTION_OPTIONS = {
  backend: { type: "string" },
  exclude: { type: "string" },
  "require-exact": { type: "boolean", default: false },
  agent: { type: "string" },
  "agent-token-file": { type: "string" },
  plugin: { type: "string", multiple: true },
  "no-native": { type: "boolean", default: false },
} as const;

/** Their lines in a command's Options section. */
export const SELECTION_OPTIONS_HELP = `  --backend ID[,ID...]     prefer these backends, in order, when usable (CLOCKSOURCE_BACKEND)
  --exclude ID[,ID...]     never select these backends (CLOCKSOURCE_EXCLUDE)
  --require-exact          select only a backend with an exact mapping to the host
                           (CLOCKSOURCE_REQUIRE_EXACT=1)
  --agent EP               the paravirtual host agent's endpoint (CLOCKSOURCE_AGENT)
  --agent-token-file FILE  the agent's shared token file (CLOCKSOURCE_AGENT_TOKEN_FILE)
  --plugin MODULE          load MODULE (a path or a package name) and call its exported
                           register(container) to add probes and backends; may be repeated
                           (CLOCKSOURCE_PLUGINS)
  --no-native              do not load the native counter reader (CLOCKSOURCE_NATIVE=0)
`;

/** Their Environment section. */
export const SELECTION_ENVIRONMENT_HELP = `Environment:
  CLOCKSOURCE_BACKEND           preferred backend ids, comma-separated (--backend wins)
  CLOCKSOURCE_EXCLUDE           backend ids never to select, comma-separated
  CLOCKSOURCE_REQUIRE_EXACT     1/true/yes: only backends with an exact mapping; 0/false/no: any
  CLOCKSOURCE_AGENT             the paravirtual host agent's endpoint
  CLOCKSOURCE_AGENT_TOKEN_FILE  the file holding the agent's shared token
  CLOCKSOURCE_PLUGINS           plugin modules, comma-separated, loaded after --plugin ones
  CLOCKSOURCE_NATIVE            0: do not load the native counter reader
  CLOCKSOURCE_DEBUG             1: add a stack trace to an unexpected error
`;

function list(v: string | undefined): string[] | undefined {
  const items = v?.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  return items && items.length > 0 ? items : undefined;
}

/** The selection policy the flags ask for; the environment's fills in what they leave out. */
export function policyFromFlags(values: { backend?: string; exclude?: string; "require-exact"?: boolean; agent?: string; "agent-token-file"?: string }): SelectionPolicy {
  const prefer = list(values.backend);
  const exclude = list(values.exclude);
  return {
    ...(prefer ? { prefer } : {}),
    ...(exclude ? { exclude } : {}),
    ...(values["require-exact"] ? { requireExactMapping: true } : {}),
    ...(values.agent ? { agentEndpoint: values.agent } : {}),
    ...(values["agent-token-file"] ? { agentTokenFile: values["agent-token-file"] } : {}),
  };
}

/** `--no-native`: the addon is opened lazily, at the first counter read, so setting this first is early enough. */
export function applyNoNative(values: { "no-native"?: boolean }): void {
  if (values["no-native"]) process.env.CLOCKSOURCE_NATIVE = "0";
}
