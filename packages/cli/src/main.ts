// Nothing else is imported up front: each command loads what it needs (`--version` nearly nothing,
// `convert` no DI container), so start-up pays only for the command that runs.
import { readFileSync } from "node:fs";
import type { ClocksourceErrorCode } from "@clocksource/core/mapping";
import { EXIT, UsageError, type CliIo } from "./cli-io.js";

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

/**
 * Loads a command. The architecture packages are optional dependencies of the
 * CLI: a command that needs one that is not installed says so in one line.
 */
async function loadCommand(name: string): Promise<CommandModule> {
  try {
    return await (COMMANDS[name] as () => Promise<CommandModule>)();
  } catch (e) {
    const missing = /Cannot find (?:package|module) '(@clocksource\/[a-z0-9-]+)'/.exec(String((e as Error)?.message));
    if ((e as { code?: string })?.code === "ERR_MODULE_NOT_FOUND" && missing) {
      throw new UsageError(`${name} needs ${missing[1]}, which is not installed (npm install -g ${missing[1]}, or install @clocksource/cli without --omit=optional)`);
    }
    throw e;
  }
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

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const TOP_HELP_TAIL = `
Options:
  -h, --help     show help (also: clocksource help <command>, clocksource <command> --help)
  -V, --version  print the version, whether the native counter reader loaded (and why
                 not) and which backend packages are installed

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
 * The exit status of each error kind — one rule, the one docs/cli.md states:
 * 2 for a usage error the user can fix on the command line (an unknown command
 * or option, a bad or missing value, options that do not go together, a
 * vCPU/epoch/backend name that does not exist), 1 for a failure at run time
 * (a missing, unreadable or refused file, permission, invalid or inconsistent
 * data in a file or input, a capability this machine lacks, authentication,
 * timeouts, a peer breaking the protocol). Internal errors are 1 too.
 * A code must not mix the two kinds: library code throws `INVALID_ARGUMENT`
 * only for values a caller passed in.
 */
export const EXIT_FOR_CODE: Readonly<Record<ClocksourceErrorCode, number>> = {
  INVALID_ARGUMENT: EXIT.usage,
  INVALID_U64: EXIT.usage,
  UNKNOWN_BACKEND: EXIT.usage,
  SYSROOT_INVALID: EXIT.failure,
  INVALID_MAPPING: EXIT.failure,
  INVALID_INPUT: EXIT.failure,
  INVALID_TRACE: EXIT.failure,
  OUT_OF_RANGE: EXIT.failure,
  IO_ERROR: EXIT.failure,
  BACKEND_UNUSABLE: EXIT.failure,
  NO_USABLE_BACKEND: EXIT.failure,
  AUTH_FAILED: EXIT.failure,
  PROTOCOL_ERROR: EXIT.failure,
  TIMEOUT: EXIT.failure,
};

/**
 * Runs the command line. Returns the exit code; never throws. Errors are one
 * line on stderr, with the exit code of {@link EXIT_FOR_CODE} (usage errors: 2;
 * failures at run time and unexpected errors: 1). `CLOCKSOURCE_DEBUG=1` adds the stack of an unexpected error.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      if (first === "help" && rest[0] && COMMANDS[rest[0]]) {
        io.stdout.write((await loadCommand(rest[0])).help);
        return EXIT.ok;
      }
      io.stdout.write(await usage());
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    if (first === "-V" || first === "--version") {
      const { describeNative, describePackages, nativeStatus } = await import("./runtime-status.js");
      // Which packages are installed, from their package.json: loading them would cost more than the answer.
      const { installedBackendPackages } = await import("./installed-packages.js");
      io.stdout.write(`clocksource ${version()}\nnative reader: ${describeNative(await nativeStatus())}\nbackend packages: ${describePackages(installedBackendPackages())}\nnode ${process.version} ${process.platform}-${process.arch}\n`);
      return EXIT.ok;
    }
    const load = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!load) {
      throw new UsageError(first.startsWith("-") ? `unknown option ${first} (try clocksource --help)` : `unknown command ${JSON.stringify(first)} (try clocksource --help)`);
    }
    return await (await loadCommand(first)).run(rest, io);
  } catch (e) {
    const { isClocksourceError } = await import("@clocksource/core/mapping");
    if (e instanceof UsageError || isClocksourceError(e)) {
      io.stderr.write(`clocksource: ${e.message}\n`);
      return e instanceof UsageError ? EXIT.usage : (EXIT_FOR_CODE[e.code] ?? EXIT.failure);
    }
    const msg = (e as Error)?.message ?? String(e);
    io.stderr.write(`clocksource: internal error: ${msg.split("\n")[0]}\n`);
    if (io.env.CLOCKSOURCE_DEBUG) io.stderr.write(`${(e as Error)?.stack ?? ""}\n`);
    return EXIT.failure;
  }
}
