import { isClocksourceError, type ClocksourceErrorCode } from "@clocksource/core/errors";
import { EXIT, UsageError, type CliIo } from "./cli-io.js";

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
 * Runs `body` and turns what it throws into one line on stderr and an exit
 * status ({@link EXIT_FOR_CODE}); never throws. `CLOCKSOURCE_DEBUG=1` adds
 * the stack of an unexpected error. Every entry point of the command line
 * (the whole one and each command's own bundle) goes through here.
 */
export async function withExitStatus(io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
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
