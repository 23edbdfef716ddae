import { basename } from "node:path";
import { openTrace, traceFormats, type OpenTraceOptions, type TraceFormat } from "@clocksource/trace";
import { UsageError, type CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";
import { dumpTrace } from "./trace-dump.js";
import { collectStats, renderInfoJson, renderInfoText } from "./trace-info.js";

export const summary = "read a trace (trace.dat, perf.data, ftrace or perf script text, JSON lines): info, dump";

export const help = `Usage: clocksource trace info FILE [--json] [options]
       clocksource trace dump FILE [--machine NAME] [options]

Reads a trace file; its format is recognised by content, not by name:
trace-cmd's trace.dat (v6, v7; none/zlib/zstd), perf.data, ftrace text
(tracefs trace/trace_pipe, trace-cmd report), perf script text (--ns) and
JSON lines. Timestamps stay exactly as the file has them (docs/traces.md).

  info   what the file holds: format, version, compression, trace clock (ticks
         or ns), CPUs, events per name and per CPU, first and last timestamp,
         buffers, every time record (TIME_SHIFT samples, GUEST vCPU threads,
         TSC2NSEC, TRACEID; perf TIME_CONV, CLOCKID, CLOCK_DATA), warnings
  dump   every event as one JSON line on stdout, in time order, streamed in
         constant memory: {"machine","ts" (exact decimal string),"cpu","pid",
         "tid","comm","event" (system:name),"fields","clock"[,"buffer"]};
         64-bit field values as decimal strings, byte arrays as hex strings.
         Warnings go to stderr at the end

Options:
  --json               info: print JSON (schema clocksource.trace-info/v1)
  --machine NAME       dump: the machine name on every line (default: the file
                       name without its extension)
  --clock NAME         the clock of a text or JSON lines trace that does not
                       name it (x86-tsc, mono, local, perf, CLOCK_MONOTONIC, …)
  --format FORMAT      read as this format instead of recognising it:
                       ${traceFormats().join(", ")}
  --ts-field NAME      JSON lines: the member holding the timestamp (default ts)
  --reorder-window N   text and JSON lines: events held to put lines that are
                       slightly out of time order in order (default 4096)
  -h, --help           show this help

Exit status: 0 done (also with warnings), 1 a file that cannot be read, is
not a trace or is damaged (dump writes what it read before the damage
first), 2 usage error.

Examples:
  clocksource trace info trace.dat     format, clock, CPUs, buffers, event counts
  clocksource trace dump perf.data | head
                                       the events as JSON lines, timestamps as recorded

Environment:
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

const FORMAT_ALIASES: Record<string, TraceFormat> = {
  "trace.dat": "trace-cmd",
  "trace-dat": "trace-cmd",
  "perf-data": "perf.data",
  "json-lines": "jsonl",
  ftrace: "ftrace-text",
};

/** The machine a trace file is from, by its name: `guest.dat` → `guest`, `host.perf.data` → `host`. */
export function machineFromPath(path: string): string {
  let name = basename(path);
  for (;;) {
    const m = /\.(dat|data|perf|txt|text|log|report|jsonl|ndjson|json|trace)$/i.exec(name);
    if (m === null || m.index === 0) break;
    name = name.slice(0, m.index);
  }
  return name.length > 0 ? name : "trace";
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "-h" || sub === "--help") {
    io.stdout.write(help);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "info" && sub !== "dump") throw new UsageError(`trace: unknown subcommand ${JSON.stringify(sub)} (info or dump)`);
  const { values, positionals } = parseOptions(`trace ${sub}`, rest, {
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      machine: { type: "string" },
      clock: { type: "string" },
      format: { type: "string" },
      "ts-field": { type: "string" },
      "reorder-window": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`trace ${sub}: ${positionals.length === 0 ? "FILE is required" : `one FILE, got ${positionals.length}`}`);
  const file = positionals[0] as string;
  if (sub === "info" && values.machine !== undefined) throw new UsageError("trace info: --machine applies to dump");
  if (sub === "dump" && values.json) throw new UsageError("trace dump: --json applies to info (dump always writes JSON lines)");
  if (values.machine !== undefined && values.machine.length === 0) throw new UsageError("trace dump: --machine needs a name");
  if (values.clock !== undefined && !/^[A-Za-z0-9_.:+-]{1,64}$/.test(values.clock)) throw new UsageError(`trace ${sub}: --clock must be a clock name such as x86-tsc or CLOCK_MONOTONIC, got ${JSON.stringify(values.clock)}`);
  let format: TraceFormat | undefined;
  if (values.format !== undefined) {
    const f = FORMAT_ALIASES[values.format] ?? values.format;
    if (!(traceFormats() as readonly string[]).includes(f)) throw new UsageError(`trace ${sub}: --format must be one of ${traceFormats().join(", ")}, got ${JSON.stringify(values.format)}`);
    format = f as TraceFormat;
  }
  if (values["ts-field"] !== undefined && values["ts-field"].length === 0) throw new UsageError(`trace ${sub}: --ts-field needs a member name`);
  let reorderWindow: number | undefined;
  if (values["reorder-window"] !== undefined) {
    if (!/^[1-9][0-9]{0,7}$/.test(values["reorder-window"])) throw new UsageError(`trace ${sub}: --reorder-window must be an integer from 1 to 99999999, got ${JSON.stringify(values["reorder-window"])}`);
    reorderWindow = Number(values["reorder-window"]);
  }
  const options: OpenTraceOptions = {
    ...(format !== undefined ? { format } : {}),
    ...(values.clock !== undefined ? { clock: values.clock } : {}),
    ...(values["ts-field"] !== undefined ? { tsField: values["ts-field"] } : {}),
    ...(reorderWindow !== undefined ? { reorderWindow } : {}),
  };
  const reader = await openTrace(file, options);
  try {
    if (sub === "dump") return await dumpTrace(reader, values.machine ?? machineFromPath(file), io);
    const stats = await collectStats(reader);
    io.stdout.write(values.json ? renderInfoJson(file, reader.info, stats) : renderInfoText(file, reader.info, stats));
    return 0;
  } finally {
    await reader.close();
  }
}
