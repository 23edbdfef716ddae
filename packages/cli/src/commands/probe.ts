import { buildProbeReport, ClockSelector, createClockContainer, SYSTEM_VIEW, type SystemView } from "@clocksource/core";
import { registerBundledBackends } from "../backend-packages.js";
import type { CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";
import { loadPlugins, pluginSpecs, registerPlugins } from "../plugins.js";
import { renderProbeReport } from "../render-probe.js";
import { applyNoNative, policyFromFlags, SELECTION_ENVIRONMENT_HELP, SELECTION_OPTIONS, SELECTION_OPTIONS_HELP } from "../selection-options.js";
import { renderRuntime, runtimeStatus } from "../runtime-status.js";

export const summary = "what this machine (or a snapshot) offers: facts, backends, selection";

export const help = `Usage: clocksource probe [--sysroot DIR] [--json] [--backend ID] [--exclude ID]
                        [--require-exact] [--agent EP] [--plugin MODULE]...

Probes this machine, or a snapshot laid out like a system root, and prints every
fact with its source and confidence, every backend's verdict and the selection,
then what the command runs with: the native counter reader (loaded, or why not),
the backend packages built in and the plugins loaded.

Options:
  --sysroot DIR            probe the snapshot at DIR instead of this machine (like lscpu --sysroot)
  --json                   print one JSON document, schema clocksource.probe/v1
${SELECTION_OPTIONS_HELP}  -h, --help               show this help

Examples:
  clocksource probe                            this machine, for people
  clocksource probe --json | jq .selected      the backend selection would use
  clocksource probe --sysroot ./snap           a snapshot taken with clocksource snapshot
  clocksource probe --exclude x86-tsc          what would be chosen without the TSC
  clocksource probe --plugin ./my-backend.mjs  rank your own backend with the others

${SELECTION_ENVIRONMENT_HELP}`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("probe", args, {
    options: {
      sysroot: { type: "string" },
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
  const container = createClockContainer({ sysroot: values.sysroot ?? "/", policy: policyFromFlags(values), env: io.env });
  registerBundledBackends(container);
  await registerPlugins(container, plugins);
  const selector = container.resolve(ClockSelector);
  const report = buildProbeReport(selector.rank(), container.resolve<SystemView>(SYSTEM_VIEW));
  const runtime = await runtimeStatus(plugins, report.live);
  io.stdout.write(values.json ? `${JSON.stringify({ ...report, runtime }, null, 2)}\n` : renderProbeReport(report) + renderRuntime(runtime));
  return 0;
}
