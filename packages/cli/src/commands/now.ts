import { ClockSelector, createClockContainer } from "@clocksource/core";
import { registerBundledBackends } from "../backend-packages.js";
import type { CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";
import { loadPlugins, pluginSpecs, registerPlugins } from "../plugins.js";
import { applyNoNative, policyFromFlags, SELECTION_ENVIRONMENT_HELP, SELECTION_OPTIONS, SELECTION_OPTIONS_HELP } from "../selection-options.js";

export const summary = "read the selected clock: ticks, nanoseconds, domain";

export const help = `Usage: clocksource now [--json] [--backend ID] [--exclude ID] [--require-exact]
                      [--plugin MODULE]...

Selects the best clock source for this machine (as \`clocksource probe\` explains)
and reads it once: its domain, the tick count and the same instant in nanoseconds.

Options:
  --json                   print {"backend","domain","frequencyHz","ticks","ns"} (ticks and ns
                           as decimal strings)
${SELECTION_OPTIONS_HELP}  -h, --help               show this help

Examples:
  clocksource now                              ticks of the selected clock and the same in ns
  clocksource now --backend os-monotonic       read the OS monotonic clock instead
  clocksource now --json | jq -r .ticks        only the tick count

${SELECTION_ENVIRONMENT_HELP}`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("now", args, {
    options: {
      json: { type: "boolean", default: false },
      ...SELECTION_OPTIONS,
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  applyNoNative(values);
  const plugins = await loadPlugins(pluginSpecs(values.plugin, io.env), process.cwd(), io.importModule);
  const container = createClockContainer({ sysroot: "/", policy: policyFromFlags(values), env: io.env });
  registerBundledBackends(container);
  await registerPlugins(container, plugins);
  const selection = container.resolve(ClockSelector).select();
  const ticks = selection.source.now();
  const ns = selection.source.toNanoseconds(ticks);
  const out = { backend: selection.selected.id, domain: selection.source.domain.name, frequencyHz: selection.source.frequencyHz, ticks: ticks.toString(), ns: ns.toString() };
  io.stdout.write(values.json ? `${JSON.stringify(out)}\n` : `${out.ticks} ticks of ${out.domain} (${out.frequencyHz} Hz, backend ${out.backend}) = ${out.ns} ns\n`);
  return 0;
}
