import type { CliIo } from "../cli-io.js";
import { UsageError } from "../cli-io.js";
import { completionScript, SHELLS, type Shell } from "../completion-script.js";
import { parseOptions } from "../parse-options.js";

export const summary = "print a shell completion script (bash, zsh or fish)";

export const help = `Usage: clocksource completion bash|zsh|fish

Prints a script that makes the shell complete clocksource's commands, their
options and, where an option takes a file or directory, its value. The script is
generated from the commands' own help, so it completes exactly what they accept.

Options:
  -h, --help    show this help

Examples:
  source <(clocksource completion bash)                  this bash session
  clocksource completion bash > ~/.local/share/bash-completion/completions/clocksource
  clocksource completion zsh > "\${fpath[1]}/_clocksource"   zsh, then restart it
  clocksource completion fish > ~/.config/fish/completions/clocksource.fish

Environment:
  none: the script depends only on the installed clocksource.
`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions("completion", args, {
    options: { help: { type: "boolean", short: "h", default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const [shell, ...extra] = positionals;
  if (shell === undefined) throw new UsageError(`completion: which shell? (${SHELLS.join(", ")})`);
  if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)} (${SHELLS.join(", ")})`);
  if (extra.length) throw new UsageError(`completion: unexpected argument ${JSON.stringify(extra[0])}`);
  // Imported here, not at the top: main.ts loads this command lazily, like every other.
  const { commandHelps } = await import("../main.js");
  io.stdout.write(completionScript(shell as Shell, await commandHelps()));
  return 0;
}
