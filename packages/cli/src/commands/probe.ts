import { buildProbeReport, ClockSelector, createClockContainer, SYSTEM_VIEW, type SelectionPolicy, type SystemView } from "@clocksource/core";
import { registerBundledBackends } from "../backend-packages.js";
import type { CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";
import { renderProbeReport } from "../render-probe.js";

export const summary = "what this machine (or a snapshot) offers: facts, backends, selection";

export const help = `Usage: clocksource probe [--sysroot DIR] [--json] [--backend ID]

Probes this machine, or a snapshot laid out like a system root, and prints every
fact with its source and confidence, every backend's verdict and the selection.

Options:
  --sysroot DIR   probe the snapshot at DIR instead of this machine (like lscpu --sysroot)
  --json          print one JSON document, schema clocksource.probe/v1 (docs/probe-schema.md)
  --backend ID    prefer this backend if usable (also CLOCKSOURCE_BACKEND=ID)
  -h, --help      show this help
`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("probe", args, {
    options: {
      sysroot: { type: "string" },
      json: { type: "boolean", default: false },
      backend: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const policy: SelectionPolicy = values.backend !== undefined ? { prefer: [values.backend] } : {};
  const container = createClockContainer({ sysroot: values.sysroot ?? "/", policy, env: io.env });
  registerBundledBackends(container);
  const selector = container.resolve(ClockSelector);
  const report = buildProbeReport(selector.rank(), container.resolve<SystemView>(SYSTEM_VIEW));
  io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderProbeReport(report));
  return 0;
}
