// Nothing else is imported up front: each command loads what it needs (`--version` nearly nothing,
// `convert` no DI container). The installed command line goes further: each command is bundled on
// its own (scripts/bundle-cli.mjs), so start-up reads only the code of the command that runs.
import { EXIT, UsageError, type CliIo } from "./cli-io.js";
import { withExitStatus } from "./exit-status.js";

export { EXIT_FOR_CODE } from "./exit-status.js";

interface CommandModule {
  readonly summary: string;
  readonly help: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** Commands load on demand so start-up pays only for the one that runs. */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  probe: () => import("./commands/probe.js"),
  "kvm-mapping": () => import("./commands/kvm-mapping.js"),
  convert: () => import("./commands/convert.js"),
  agent: () => import("./commands/agent.js"),
  sync: () => import("./commands/sync.js"),
  snapshot: () => import("./commands/snapshot.js"),
  now: () => import("./commands/now.js"),
  "arm-mapping": () => import("./commands/arm-mapping.js"),
  merge: () => import("./commands/merge.js"),
  pairs: () => import("./commands/pairs.js"),
  trace: () => import("./commands/trace.js"),
};

COMMANDS.completion = () => import("./commands/completion.js");

function loadCommand(name: string): Promise<CommandModule> {
  return (COMMANDS[name] as () => Promise<CommandModule>)();
}

/** The command names, in the order `--help` lists them (each is also bundled on its own: scripts/bundle-cli.mjs). */
export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

/** Every command's name, summary and help: what the man page, docs/cli.md and the completions are made from. */
export async function commandHelps(): Promise<{ name: string; summary: string; help: string }[]> {
  const out: { name: string; summary: string; help: string }[] = [];
  for (const name of Object.keys(COMMANDS)) {
    const m = await loadCommand(name).catch((e: unknown) => ({ summary: `(unavailable: ${String((e as Error)?.message ?? e).split("\n")[0]})`, help: "" }));
    out.push({ name, summary: m.summary, help: m.help });
  }
  return out;
}

const TOP_HELP_TAIL = `
Options:
  -h, --help     show help (also: clocksource help <command>, clocksource <command> --help)
  -V, --version  print the version, whether the native counter reader loaded (and why
                 not) and the versions of the backend packages built in

Examples:
  clocksource probe                    what this machine offers, and the clock it would use
  clocksource now                      read that clock once
  clocksource help convert             one command's options, examples and environment
  source <(clocksource completion bash)
                                       complete commands and options in this bash session

Exit status:
  0   success
  1   a failure at run time: a file missing, unreadable or invalid, a capability this
      machine lacks, a peer that times out or breaks the protocol; or an unexpected error
  2   a usage error, fixable on the command line: an unknown command or option, a bad
      or missing value, options that do not go together

Environment:
  CLOCKSOURCE_BACKEND           preferred backend ids, comma-separated
  CLOCKSOURCE_EXCLUDE           backend ids never to select, comma-separated
  CLOCKSOURCE_REQUIRE_EXACT     1: select only a backend with an exact mapping to the host
  CLOCKSOURCE_AGENT             the paravirtual host agent's endpoint
  CLOCKSOURCE_AGENT_TOKEN_FILE  the file holding the agent's shared token
  CLOCKSOURCE_PLUGINS           plugin modules exporting register(container), comma-separated
  CLOCKSOURCE_NATIVE            0: do not load the native counter reader
  CLOCKSOURCE_DEBUG             1: add a stack trace to an unexpected error

Errors are one line on stderr. Each command's help lists its own options, examples
and environment; \`man clocksource\` has them all.
`;

async function usage(): Promise<string> {
  let text = "Usage: clocksource <command> [options]\n\nPut guest and host timestamps on one time base.\n\nCommands:\n";
  for (const c of await commandHelps()) text += `  ${c.name.padEnd(14)} ${c.summary}\n`;
  return text + TOP_HELP_TAIL;
}


/**
 * Runs the command line. Returns the exit code; never throws. Errors are one
 * line on stderr, with the exit code of {@link EXIT_FOR_CODE} (usage errors: 2;
 * failures at run time and unexpected errors: 1). `CLOCKSOURCE_DEBUG=1` adds the stack of an unexpected error.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  return withExitStatus(io, async () => {
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      if (first === "help" && rest[0] && Object.hasOwn(COMMANDS, rest[0])) {
        io.stdout.write((await loadCommand(rest[0])).help);
        return EXIT.ok;
      }
      io.stdout.write(await usage());
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    if (first === "-V" || first === "--version") {
      io.stdout.write(await (await import("./runtime-status.js")).versionText());
      return EXIT.ok;
    }
    if (!Object.hasOwn(COMMANDS, first)) {
      throw new UsageError(first.startsWith("-") ? `unknown option ${first} (try clocksource --help)` : `unknown command ${JSON.stringify(first)} (try clocksource --help)`);
    }
    return (await loadCommand(first)).run(rest, io);
  });
}
