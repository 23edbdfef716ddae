import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./cli-io.js";

/**
 * `util.parseArgs` in strict mode (unknown options are errors), with its
 * errors turned into one-line {@link UsageError}s that name the command.
 */
export function parseOptions<T extends Omit<ParseArgsConfig, "args" | "strict">>(command: string, args: string[], config: T): ReturnType<typeof parseArgs<T & { strict: true }>> {
  try {
    return parseArgs({ ...config, args, strict: true }) as ReturnType<typeof parseArgs<T & { strict: true }>>;
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]?.replace(/\. To specify a positional argument.*$/, "") ?? "bad arguments";
    throw new UsageError(`${command}: ${msg}`);
  }
}
