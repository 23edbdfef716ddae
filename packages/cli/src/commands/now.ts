import { ClockSelector, createClockContainer, type SelectionPolicy } from "@clocksource/core";
import { registerBundledBackends } from "../backend-packages.js";
import type { CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";

export const summary = "read the selected clock: ticks, nanoseconds, domain";

export const help = `Usage: clocksource now [--backend ID] [--json]

Selects the best clock source for this machine (as \`clocksource probe\` explains)
and reads it once: its domain, the tick count and the same instant in nanoseconds.

Options:
  --backend ID   prefer this backend if usable (also CLOCKSOURCE_BACKEND=ID)
  --json         print {"backend","domain","frequencyHz","ticks","ns"} (ticks and ns as decimal strings)
  -h, --help     show this help
`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("now", args, {
    options: {
      backend: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const policy: SelectionPolicy = values.backend !== undefined ? { prefer: [values.backend] } : {};
  const container = createClockContainer({ sysroot: "/", policy, env: io.env });
  registerBundledBackends(container);
  const selection = container.resolve(ClockSelector).select();
  const ticks = selection.source.now();
  const ns = selection.source.toNanoseconds(ticks);
  const out = { backend: selection.selected.id, domain: selection.source.domain.name, frequencyHz: selection.source.frequencyHz, ticks: ticks.toString(), ns: ns.toString() };
  io.stdout.write(values.json ? `${JSON.stringify(out)}\n` : `${out.ticks} ticks of ${out.domain} (${out.frequencyHz} Hz, backend ${out.backend}) = ${out.ns} ns\n`);
  return 0;
}
