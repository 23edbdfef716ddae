import { basename } from "node:path";
import { ClocksourceError, parseI64, readMappingFileAsync, type MappingCodecRegistry } from "@clocksource/core";
import {
  ChromeJsonWriter,
  ChunkSink,
  domainIsNanoseconds,
  JsonLinesWriter,
  mergeTraces,
  newMergeStats,
  openTrace,
  PerfettoWriter,
  planMerge,
  TextWriter,
  ticksToNanoseconds,
  type MergeStats,
  type MergeWriter,
  type PlanInput,
  type PlanMapping,
  type TraceReader,
  type VmThreads,
} from "@clocksource/trace";
import { UsageError, type CliIo } from "../cli-io.js";
import { mappingKinds } from "../mapping-kinds.js";
import { OutputStream } from "../output-stream.js";
import { parseOptions } from "../parse-options.js";

export const summary = "merge guest and host traces onto one time base (Perfetto, Chrome JSON, text, JSON lines)";

export const help = `Usage: clocksource merge [MACHINE[/LABEL]=]TRACE ... [options]

Reads traces from several machines (trace.dat, perf.data, ftrace or perf
script text, JSON lines; each format recognised by content), maps every
event's timestamp onto one time base and writes one timeline. The first
TRACE is the host: its clock is the target unless --target says otherwise.
MACHINE (default: the file name without extension) names the machine the
trace was recorded on; several traces of one machine (a trace.dat and a
perf.data of the host, say) share its clocks: name them MACHINE/LABEL.
Guests' CPUs are their vCPUs.

Time reaches the target along the best route through the mappings known:
--offset and --mapping, the files' own time-sync records (trace-cmd
TIME_SHIFT and TSC2NSEC, perf TIME_CONV) and the host's kvm_write_tsc_offset
events (cross-checked against causality and any mapping file first). Exact
routes are preferred; otherwise the one with the smallest error bound.
Every event carries its uncertainty; events of different machines closer
than their combined uncertainty are flagged "order unknown". A summary goes
to stderr.

Options:
  -o, --output FILE        where to write (default: standard output; "-" too);
                           a regular file is replaced only when the merge is
                           complete; nothing is left behind on failure
  -f, --format FORMAT      perfetto, chrome, text or jsonl (default: from the
                           output's extension: .pftrace/.perfetto-trace/.pb →
                           perfetto, .json → chrome, .jsonl → jsonl; else text)
  --mapping NAME=FILE      a mapping file for guest NAME (kvm-mapping,
                           arm-mapping, sync --out); "guest." domains in the
                           file are NAME's, "host." ones its parent's
  --offset NAME=N          NAME's raw timestamps + N = its parent's (signed,
                           raw units), like trace-cmd report --ts-offset
  --parent NAME=PARENT     NAME runs inside PARENT (nested guests; default:
                           the first TRACE)
  --clock INPUT=CLOCK      the clock of a trace where the file does not
                           say it (text, JSON lines): x86-tsc, mono, boot,
                           local, perf, CLOCK_MONOTONIC, …
  --target DOMAIN          the time base of the output, e.g. host.tsc,
                           host.monotonic (default: the first TRACE's clock)
  --target-hz HZ           ticks per second of a tick-counting target, for
                           formats that need nanoseconds (perfetto, chrome)
  --tsc-offset-events MODE auto (use the host's kvm_write_tsc_offset events
                           when causality holds), require, or ignore
  --vm-pid NAME=PID        the host process of guest NAME's VM (picks its
                           kvm_write_tsc_offset events among several VMs)
  --strict                 fail (exit 1, nothing written) when a reader warns:
                           a truncated or damaged trace, lost events, an
                           unknown option; without it, what can be read is
                           merged and the warnings are listed in the summary
  -h, --help               show this help

Examples:
  clocksource merge host=host.dat vm1=guest.dat --mapping vm1=vm1.mapping.json -o merged.pftrace
  clocksource merge host.dat guest.dat --offset guest=-123456 --format text
  clocksource merge host=perf-host.data vm1=guest.jsonl --clock vm1=mono -o merged.json

Environment:
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** An input: a machine, optionally with a label for a second trace of it. */
const INPUT = /^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_-]{1,64})?$/;

function keyed(option: string, values: readonly string[] | undefined, pattern = NAME): [string, string][] {
  return (values ?? []).map((v) => {
    const eq = v.indexOf("=");
    if (eq <= 0 || eq === v.length - 1) throw new UsageError(`merge: ${option} takes NAME=VALUE, got ${JSON.stringify(v)}`);
    const name = v.slice(0, eq);
    if (!pattern.test(name)) throw new UsageError(`merge: ${option}: names are letters, digits, - and _${pattern === INPUT ? " (MACHINE/LABEL for an input)" : ""}, got ${JSON.stringify(name)}`);
    return [name, v.slice(eq + 1)];
  });
}

function formatFor(option: string | undefined, output: string): "perfetto" | "chrome" | "text" | "jsonl" {
  if (option !== undefined) {
    if (option === "perfetto" || option === "chrome" || option === "text" || option === "jsonl") return option;
    throw new UsageError(`merge: --format must be perfetto, chrome, text or jsonl, got ${JSON.stringify(option)}`);
  }
  if (/\.(pftrace|perfetto-trace|pb)$/i.test(output)) return "perfetto";
  if (/\.json$/i.test(output)) return "chrome";
  if (/\.jsonl$/i.test(output)) return "jsonl";
  return "text";
}

function positiveBig(option: string, v: string): bigint {
  if (!/^[1-9][0-9]{0,19}$/.test(v)) throw new UsageError(`merge: ${option} must be a positive integer, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

/** Each input's reader warnings, as summary lines (the first few of each, and a count). */
function warningLines(specs: readonly { name: string }[], readers: readonly TraceReader[]): { lines: string; count: number; first: string | null } {
  let lines = "";
  let count = 0;
  let first: string | null = null;
  readers.forEach((r, i) => {
    const w = r.warnings;
    if (w.length === 0) return;
    count += w.length;
    first ??= `${specs[i]?.name}: ${w[0]}`;
    lines += `  warnings from ${specs[i]?.name}: ${w.length}\n`;
    for (const x of w.slice(0, 3)) lines += `    ${x}\n`;
    if (w.length > 3) lines += `    … and ${w.length - 3} more\n`;
  });
  return { lines, count, first };
}

function summaryLines(stats: MergeStats, notes: readonly string[], target: string): string {
  let s = `merge: ${stats.machines.reduce((n, m) => n + m.events, 0)} events onto ${target}\n`;
  for (const m of stats.machines) {
    const bound = m.boundUnknown ? "unknown" : m.maxBoundNs === null || m.maxBoundNs === 0n ? "0 (exact)" : `±${m.maxBoundNs} ns`;
    s += `  ${m.name}: ${m.events} events; largest uncertainty ${bound}; epochs crossed ${Math.max(0, m.epochsUsed.size - 1)}`;
    if (m.outsideEpoch > 0) s += `; ${m.outsideEpoch} outside every epoch (kept, flagged, extrapolated)`;
    if (m.unmapped > 0) s += `; ${m.unmapped} that no mapping could place (kept at their raw time, flagged)`;
    s += "\n";
  }
  for (const r of stats.routes) {
    if (r.events === 0) continue;
    const via = r.path.edges.length === 0 ? "already on the target clock" : r.path.edges.map((e) => e.source).join(" → ");
    s += `  route ${r.machine}${r.buffer ? ` (buffer ${r.buffer})` : ""}: ${r.path.from} → ${r.path.to}: ${via}\n`;
  }
  for (const n of notes) s += `  note: ${n}\n`;
  s += `  order unknown (closer than the combined uncertainty): ${stats.orderUnknown}\n`;
  if (stats.outOfOrder > 0) s += `  released out of order (a mapping ran backwards): ${stats.outOfOrder}\n`;
  return s;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions("merge", args, {
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      format: { type: "string", short: "f" },
      mapping: { type: "string", multiple: true },
      offset: { type: "string", multiple: true },
      parent: { type: "string", multiple: true },
      clock: { type: "string", multiple: true },
      target: { type: "string" },
      "target-hz": { type: "string" },
      "tsc-offset-events": { type: "string" },
      "vm-pid": { type: "string", multiple: true },
      strict: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("merge: give at least one TRACE (the host's first)");
  const specs = positionals.map((p) => {
    const eq = p.indexOf("=");
    const named = eq > 0 && INPUT.test(p.slice(0, eq));
    const path = named ? p.slice(eq + 1) : p;
    const name = named ? p.slice(0, eq) : basename(path).replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "trace";
    return { name, machine: name.split("/")[0] as string, path };
  });
  const clocks = new Map(keyed("--clock", values.clock, INPUT));
  const offsets = new Map(keyed("--offset", values.offset).map(([n, v]) => {
    try {
      return [n, parseI64(v, `--offset ${n}`)] as const;
    } catch (e) {
      throw new UsageError(`merge: ${(e as Error).message}`);
    }
  }));
  const parents = new Map(keyed("--parent", values.parent));
  const vmThreads = new Map<string, VmThreads>(keyed("--vm-pid", values["vm-pid"]).map(([n, v]) => {
    if (!/^[1-9][0-9]{0,9}$/.test(v)) throw new UsageError(`merge: --vm-pid ${n}= takes a process id, got ${JSON.stringify(v)}`);
    return [n, { pid: Number(v) }];
  }));
  const mode = values["tsc-offset-events"] ?? "auto";
  if (mode !== "auto" && mode !== "require" && mode !== "ignore") throw new UsageError(`merge: --tsc-offset-events must be auto, require or ignore, got ${JSON.stringify(mode)}`);
  const output = values.output ?? "-";
  const format = formatFor(values.format, output);
  const targetHz = values["target-hz"] === undefined ? null : positiveBig("--target-hz", values["target-hz"]);
  const names = new Set(specs.map((s) => s.name));
  if (names.size < specs.length) throw new UsageError(`merge: two inputs have the same name; name a machine's second trace MACHINE/LABEL=TRACE`);
  const machineNames = [...new Set(specs.map((s) => s.machine))];
  for (const n of clocks.keys()) if (!names.has(n)) throw new UsageError(`merge: --clock names ${n}, which is not an input (inputs: ${[...names].join(", ")})`);
  for (const [opt, m] of [["--offset", offsets], ["--parent", parents], ["--vm-pid", vmThreads]] as const) {
    for (const n of m.keys()) if (!machineNames.includes(n)) throw new UsageError(`merge: ${opt} names ${n}, which is not a machine of the inputs (${machineNames.join(", ")})`);
  }

  const registry: MappingCodecRegistry = await mappingKinds();
  const mappings: PlanMapping[] = [];
  for (const [guest, path] of keyed("--mapping", values.mapping)) {
    if (!machineNames.includes(guest)) throw new UsageError(`merge: --mapping names ${guest}, which is not a machine of the inputs (${machineNames.join(", ")})`);
    mappings.push({ guest, path, file: await readMappingFileAsync(path) });
  }

  const readers: TraceReader[] = [];
  let out: OutputStream | undefined;
  try {
    const inputs: PlanInput[] = [];
    for (const s of specs) {
      const clock = clocks.get(s.name);
      const reader = await openTrace(s.path, clock === undefined ? {} : { clock });
      readers.push(reader);
      inputs.push({ name: s.name, machine: s.machine, path: s.path, reader, ...(clock === undefined ? {} : { clock }) });
    }
    const plan = await planMerge(inputs, {
      registry,
      mappings,
      offsets,
      parents,
      vmThreads,
      tscOffsetEvents: mode,
      ...(values.target === undefined ? {} : { target: values.target }),
      reopen: (i) => openTrace(i.path, i.clock === undefined ? {} : { clock: i.clock }),
    });
    const targetNs = domainIsNanoseconds(plan.target);
    let toNanoseconds: ((ts: bigint) => bigint) | null = null;
    if (!targetNs && (format === "perfetto" || format === "chrome")) {
      if (targetHz === null) {
        throw new UsageError(`merge: the target ${plan.target} counts ticks; ${format} needs nanoseconds: give --target-hz (its ticks per second), or a nanosecond --target`);
      }
      toNanoseconds = ticksToNanoseconds(targetHz);
    }
    out = await OutputStream.open(output, io.stdout, "merged trace");
    const sink = new ChunkSink();
    const machines = machineNames.map((name, index) => ({ index, name }));
    const writer: MergeWriter =
      format === "perfetto" ? new PerfettoWriter(sink) : format === "chrome" ? new ChromeJsonWriter(sink) : format === "jsonl" ? new JsonLinesWriter(sink) : new TextWriter(sink, targetNs);
    writer.begin({ machines, target: plan.target, toNanoseconds });
    const stats = newMergeStats();
    const targetUnit = targetNs ? ({ ns: true } as const) : ({ ns: false, ticksPerSecond: targetHz } as const);
    if (!targetNs && targetHz === null && plan.inputs.some((i) => [...i.domains.values()].some((d) => plan.graph.path(d, plan.target)?.boundNs !== 0n))) {
      plan.notes.push(`uncertainties are in ns and ${plan.target} counts ticks at a rate not given: events with a non-zero bound are all "order unknown" (give --target-hz)`);
    }
    for await (const batch of mergeTraces(plan.inputs, { ...plan, targetUnit }, stats)) {
      writer.write(batch);
      if (sink.pending + writer.pending() >= 1 << 20) {
        writer.flush();
        await out.write(sink.take());
      }
    }
    writer.end();
    const warnings = warningLines(specs, readers);
    if (values.strict && warnings.count > 0) {
      throw new ClocksourceError("INVALID_TRACE", `merge: ${warnings.count} reader warning(s) and --strict; the first: ${warnings.first}`);
    }
    await out.write(sink.take());
    await out.commit();
    io.stderr.write(summaryLines(stats, plan.notes, plan.target) + warnings.lines);
    return 0;
  } catch (e) {
    await out?.abort();
    if (e instanceof ClocksourceError && e.code === "IO_ERROR" && /EPIPE/.test(String((e.cause as Error | undefined)?.message ?? ""))) return 0;
    throw e;
  } finally {
    for (const r of readers) await r.close().catch(() => undefined);
  }
}
