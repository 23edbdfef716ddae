import "reflect-metadata";
import { readFileSync } from "node:fs";
import { isClocksourceError, type ClocksourceErrorCode } from "@clocksource/core";
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
  trace: () => import("./commands/trace.js"),
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function usage(): Promise<string> {
  let text = "Usage: clocksource <command> [options]\n\nPut guest and host timestamps on one time base.\n\nCommands:\n";
  for (const [name, load] of Object.entries(COMMANDS)) text += `  ${name.padEnd(14)} ${(await load()).summary}\n`;
  text += "\nOptions:\n  -h, --help     show help (also: clocksource <command> --help)\n  -V, --version  print the version\n\nDocs: docs/cli.md\n";
  return text;
}

/**
 * Errors the user can act on — bad options, paths, values, permissions, a VM
 * or endpoint that is not there, a wrong token — exit 2. Failures at run time
 * (no usable backend, a peer that times out or breaks the protocol) and
 * internal errors exit 1.
 */
const EXIT_FOR_CODE: Record<ClocksourceErrorCode, number> = {
  INVALID_U64: EXIT.usage,
  INVALID_ARGUMENT: EXIT.usage,
  UNKNOWN_BACKEND: EXIT.usage,
  SYSROOT_INVALID: EXIT.usage,
  INVALID_MAPPING: EXIT.usage,
  OUT_OF_RANGE: EXIT.usage,
  IO_ERROR: EXIT.usage,
  BACKEND_UNUSABLE: EXIT.usage,
  AUTH_FAILED: EXIT.usage,
  NO_USABLE_BACKEND: EXIT.failure,
  PROTOCOL_ERROR: EXIT.failure,
  TIMEOUT: EXIT.failure,
  INVALID_TRACE: EXIT.failure,
};

/**
 * Runs the command line. Returns the exit code; never throws. Errors are one
 * line on stderr, with the exit code of {@link EXIT_FOR_CODE} (usage errors: 2;
 * unexpected errors: 1). `CLOCKSOURCE_DEBUG=1` adds the stack of an unexpected error.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      if (first === "help" && rest[0] && COMMANDS[rest[0]]) {
        io.stdout.write((await (COMMANDS[rest[0]] as () => Promise<CommandModule>)()).help);
        return EXIT.ok;
      }
      io.stdout.write(await usage());
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    if (first === "-V" || first === "--version") {
      io.stdout.write(`clocksource ${version()}\n`);
      return EXIT.ok;
    }
    const load = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!load) {
      throw new UsageError(first.startsWith("-") ? `unknown option ${first} (try clocksource --help)` : `unknown command ${JSON.stringify(first)} (try clocksource --help)`);
    }
    return await (await load()).run(rest, io);
  } catch (e) {
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
