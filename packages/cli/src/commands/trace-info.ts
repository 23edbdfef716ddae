/**
 * `clocksource trace info`: what a trace file holds — its format, clock,
 * buffers, CPUs, events per name and per CPU, first and last timestamps and
 * every time-related record — as text or as JSON (`clocksource.trace-info/v1`).
 */
import type { TimeRecords, TraceClock, TraceEvent, TraceInfo, TraceReader } from "@clocksource/trace";

interface Span {
  events: number;
  first: bigint | null;
  last: bigint | null;
}

/** Counts gathered in one pass over the events (memory: one entry per distinct name, CPU and buffer). */
export interface TraceStats {
  readonly total: number;
  readonly lostMarkers: number;
  /** Events the markers say were lost (markers without a count add nothing). */
  readonly lostEvents: bigint;
  readonly first: bigint | null;
  readonly last: bigint | null;
  readonly perName: ReadonlyMap<string, number>;
  readonly perCpu: ReadonlyMap<number, number>;
  readonly perBuffer: ReadonlyMap<string, Span>;
}

/** Reads every event once and counts. */
export async function collectStats(reader: TraceReader): Promise<TraceStats> {
  let total = 0;
  let lostMarkers = 0;
  let lostEvents = 0n;
  let first: bigint | null = null;
  let last: bigint | null = null;
  const perName = new Map<string, number>();
  const perCpu = new Map<number, number>();
  const perBuffer = new Map<string, Span>();
  let span: Span | undefined;
  let spanName: string | null = null;
  for await (const batch of reader.batches()) {
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i] as TraceEvent;
      total++;
      perName.set(e.name, (perName.get(e.name) ?? 0) + 1);
      perCpu.set(e.cpu, (perCpu.get(e.cpu) ?? 0) + 1);
      if (e.buffer !== spanName || span === undefined) {
        span = perBuffer.get(e.buffer);
        if (span === undefined) perBuffer.set(e.buffer, (span = { events: 0, first: null, last: null }));
        spanName = e.buffer;
      }
      span.events++;
      if (span.first === null || e.ts < span.first) span.first = e.ts;
      if (span.last === null || e.ts > span.last) span.last = e.ts;
      if (first === null || e.ts < first) first = e.ts;
      if (last === null || e.ts > last) last = e.ts;
      if (e.name === "lost") {
        lostMarkers++;
        const c = e.fields.count;
        if (typeof c === "number" || typeof c === "bigint") lostEvents += BigInt(c);
      }
    }
  }
  return { total, lostMarkers, lostEvents, first, last, perName, perCpu, perBuffer };
}

const CLOCK_IDS: Record<number, string> = { 0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 4: "CLOCK_MONOTONIC_RAW", 7: "CLOCK_BOOTTIME", 11: "CLOCK_TAI" };

function clockText(c: TraceClock): string {
  return `${c.name ?? "unknown"} (${c.unit === "ticks" ? "counts ticks" : c.unit === "ns" ? "counts ns" : "unit unknown"}; ${c.source})`;
}

function hex(v: bigint): string {
  return `0x${(v < 0n ? v + (1n << 64n) : v).toString(16)}`;
}

/** Samples listed per CPU in the text output (all are in --json). */
const SAMPLES_SHOWN = 8;

function timeRecordLines(t: TimeRecords): string[] {
  const out: string[] = [];
  if (t.traceId !== undefined) out.push(`  TRACEID         ${hex(t.traceId)} (${t.traceId})`);
  if (t.tsc2nsec !== undefined) out.push(`  TSC2NSEC        ns = ((ticks × ${t.tsc2nsec.mult}) >> ${t.tsc2nsec.shift}) + ${t.tsc2nsec.offset}`);
  if (t.timeShift !== undefined) {
    const s = t.timeShift;
    out.push(`  TIME_SHIFT      onto trace ${hex(s.peerTraceId)}, flags ${hex(BigInt(s.flags))}${s.flags & 1 ? " (interpolate)" : ""}, ${s.cpus.length} CPU(s)`);
    s.cpus.forEach((c, cpu) => {
      out.push(`    CPU ${cpu}: ${c.times.length} sample(s)`);
      for (let i = 0; i < Math.min(c.times.length, SAMPLES_SHOWN); i++) {
        out.push(`      time ${c.times[i]}  offset ${c.offsets[i]}  scaling ${c.scalings[i]}  frac ${c.fractions[i] ?? 0}`);
      }
      if (c.times.length > SAMPLES_SHOWN) out.push(`      … ${c.times.length - SAMPLES_SHOWN} more (--json lists all)`);
    });
  }
  for (const g of t.guests ?? []) {
    const map = g.vcpuThreads.map((v) => `vCPU ${v.vcpu} → thread ${v.tid}`).join(", ");
    out.push(`  GUEST           ${JSON.stringify(g.name)}, trace ${hex(g.traceId)}: ${map || "no vCPUs"}`);
  }
  if (t.perfTimeConv !== undefined) {
    const c = t.perfTimeConv;
    let line = `  TIME_CONV       time_shift ${c.timeShift}, time_mult ${c.timeMult}, time_zero ${c.timeZero}`;
    if (c.timeCycles !== undefined) line += `, time_cycles ${c.timeCycles}, time_mask ${c.timeMask}, cap_user_time_zero ${c.capUserTimeZero}, cap_user_time_short ${c.capUserTimeShort}`;
    out.push(line);
  }
  if (t.perfClockId !== undefined) out.push(`  CLOCKID         ${t.perfClockId} (${CLOCK_IDS[t.perfClockId] ?? "?"})`);
  if (t.perfClockResolutionNs !== undefined) out.push(`  clock resolution ${t.perfClockResolutionNs} ns (HEADER_CLOCKID)`);
  if (t.perfClockData !== undefined) {
    const d = t.perfClockData;
    out.push(`  CLOCK_DATA      clockid ${d.clockId}: wall clock ${d.wallClockNs} ns at clock time ${d.clockIdTimeNs} ns`);
  }
  return out;
}

function table(rows: [string, string][], indent = "  "): string[] {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`);
}

/** The text form. */
export function renderInfoText(file: string, info: TraceInfo, s: TraceStats): string {
  const lines: string[] = [];
  const head: [string, string][] = [
    ["file", file],
    ["format", `${info.format}${info.version !== null ? `, version ${info.version}` : ""}${info.compression !== null ? `, compression ${info.compression}` : ""}`],
    ["clock", clockText(info.clock)],
    ["CPUs", `${info.cpuCount ?? "not stated"}${s.perCpu.size > 0 ? `; events on ${[...s.perCpu.keys()].sort((a, b) => a - b).join(", ")}` : ""}`],
    ["events", `${s.total}${s.lostMarkers > 0 ? ` (${s.lostMarkers} lost-event marker(s), ${s.lostEvents} event(s) lost)` : ""}`],
    ["first timestamp", s.first === null ? "-" : s.first.toString()],
    ["last timestamp", s.last === null ? "-" : s.last.toString()],
  ];
  lines.push(...table(head, ""));
  lines.push("buffers:");
  for (const b of info.buffers) {
    const span = s.perBuffer.get(b.name);
    const range = span && span.first !== null ? `, ${span.first} … ${span.last}` : "";
    lines.push(`  ${b.name === "" ? "(top level)" : b.name}: clock ${clockText(b.clock)}, CPUs ${b.cpus.join(",") || "-"}, ${span?.events ?? 0} event(s)${range}`);
  }
  lines.push("events per name:");
  lines.push(...table([...s.perName].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, v]) => [k, String(v)])));
  lines.push("events per CPU:");
  lines.push(...table([...s.perCpu].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k < 0 ? "unknown" : String(k), String(v)])));
  const tr = timeRecordLines(info.timeRecords);
  lines.push(`time records:${tr.length === 0 ? " none" : ""}`, ...tr);
  const props = Object.entries(info.properties ?? {});
  if (props.length > 0) lines.push("properties:", ...table(props));
  lines.push(`warnings:${info.warnings.length === 0 ? " none" : ""}`, ...info.warnings.map((w) => `  ${w}`));
  return `${lines.join("\n")}\n`;
}

/** bigints as decimal strings (JSON has no 64-bit integers). */
function replacer(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/** The `--json` form, schema `clocksource.trace-info/v1` (docs/traces.md). */
export function renderInfoJson(file: string, info: TraceInfo, s: TraceStats): string {
  const doc = {
    schema: "clocksource.trace-info/v1",
    file,
    format: info.format,
    version: info.version,
    compression: info.compression,
    clock: info.clock,
    cpuCount: info.cpuCount,
    buffers: info.buffers.map((b) => {
      const span = s.perBuffer.get(b.name);
      return { ...b, events: span?.events ?? 0, firstTs: span?.first ?? null, lastTs: span?.last ?? null };
    }),
    events: {
      total: s.total,
      firstTs: s.first,
      lastTs: s.last,
      lostMarkers: s.lostMarkers,
      lostEvents: s.lostEvents,
      perName: Object.fromEntries([...s.perName].sort((a, b) => (a[0] < b[0] ? -1 : 1))),
      perCpu: Object.fromEntries([...s.perCpu].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
    },
    timeRecords: info.timeRecords,
    properties: info.properties ?? {},
    warnings: info.warnings,
  };
  return `${JSON.stringify(doc, replacer, 2)}\n`;
}
