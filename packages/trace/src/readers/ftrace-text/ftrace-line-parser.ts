/**
 * Lines of ftrace text: tracefs `trace` / `trace_pipe` (with or without the
 * header, the irq-info flags column, the tgid column) and `trace-cmd report`
 * (with or without `-t`, `--raw-ts`, `-l`, buffer-name prefixes). One event
 * per line: `comm-pid [cpu] flags timestamp: event: fields`.
 */
import { ClocksourceError } from "@clocksource/core";
import type { BufferInfo, EventFields, TraceClock, TraceEvent } from "../../model/event.js";
import { declaredClock } from "../text/clock-unit.js";
import { parseKeyValues, printedValue } from "../text/key-values.js";
import type { LineParser, LineSink, TextReaderOptions } from "../text/line-trace-reader.js";
import { decimalSecondsToNs, digitsToU64 } from "../text/timestamp.js";
import { qualifyEventName } from "./event-systems.js";

/**
 * Groups: 1 buffer prefix (trace-cmd), 2 comm, 3 pid, 4 tgid, 5 cpu, 6 flags,
 * 7 cpu and 8 flags of the latency layout (`1d..2.`; trace-cmd glues a raw
 * timestamp to them, so they are taken as 5 characters there, as kernels
 * since 5.16 print them), 9 whole timestamp,
 * 10 its fraction, 11 the rest (`event: fields`). The comm starts at a
 * non-space (both tools pad it on the left), so no part of the pattern can
 * take a run of spaces two ways.
 */
export const FTRACE_EVENT_LINE = /^(?:(\S+): +)?\s*(\S.*?)-(\d+) +(?:\( *(\d+|-+)\) +)?(?:\[(\d+)\](?: +([^\s\d]\S{3,5}))?|(\d+)([^\s\d]\S{3,4})) *(\d+)(?:\.(\d+))?: (.*)$/;
const EVENT_NAME = /^([^\s:]+):(?: +|$)/;
const LOST_TRACEFS = /^(?:(\S+): +)?CPU:(\d+) \[LOST (\d+) EVENTS\]\s*$/;
const LOST_TRACE_CMD = /^(?:(\S+): +)?CPU:(\d+) \[(?:(\d+) )?EVENTS DROPPED\]\s*$/;
const ENTRIES = /^# entries-in-buffer\/entries-written: (\d+)\/(\d+)\s+#P:(\d+)/;
const TRACER = /^# tracer: (\S+)/;
const CPUS = /^cpus=(\d+)\s*$/;
const VERSION = /^version = (\d+)\s*$/;
const EMPTY_CPU = /^(?:(\S+): +)?CPU \d+ is empty\s*$/;
/** trace-cmd's own rendering of sched_switch and sched_wakeup (its sched plugin). */
const PLUGIN_SWITCH = /^(.+):(-?\d+) \[(-?\d+)\] (\S+) ==> (.+):(-?\d+) \[(-?\d+)\]$/;
const PLUGIN_WAKEUP = /^(.+):(-?\d+) \[(-?\d+)\](?: success=(\d+))? CPU:(\d+)$/;
const PRINT_RAW = /^ip=(\S+) buf=(.*)$/s;
const PRINT_PAYLOAD = /^(\S+): (.*)$/s;
const FUNCTION = /^(\S+)(?: <-(\S+))?$/;

type Dialect = "tracefs" | "trace-cmd";
type TsForm = "integer" | "usec" | "nsec" | "other";

/** Creates the ftrace text line parser. */
export function createFtraceParser(sink: LineSink, options: TextReaderOptions, path: string): LineParser {
  return new FtraceLineParser(sink, options, path);
}

class FtraceLineParser implements LineParser {
  private dialect: Dialect | null = null;
  private readonly tsForms = new Set<TsForm>();
  private cpuCount: number | null = null;
  private tracer: string | null = null;
  private overwritten = 0n;
  private readonly buffers = new Map<string, Set<number>>();
  private pendingLost: { cpu: number; count: number | bigint | null; buffer: string }[] = [];
  private lastTs = 0n;
  private carryBuffer: string | null = null;
  private latencyLayout = false;
  private stackLines = 0;
  private firstStackLine = 0;

  constructor(
    private readonly sink: LineSink,
    private readonly options: TextReaderOptions,
    private readonly path: string,
  ) {}

  line(text: string, lineNo: number): void {
    const m = FTRACE_EVENT_LINE.exec(text);
    if (m !== null) {
      this.eventLine(m, lineNo);
      return;
    }
    this.otherLine(text, lineNo);
  }

  private eventLine(m: RegExpExecArray, lineNo: number): void {
    // trace-cmd prints a buffer's name once before a lost-events notice and not on the event after it.
    const buffer = m[1] ?? this.carryBuffer ?? "";
    this.carryBuffer = null;
    const cpuText = m[5] ?? m[7];
    const flags = m[6] ?? m[8];
    if (m[1] !== undefined || m[7] !== undefined) this.dialect ??= "trace-cmd";
    if (m[7] !== undefined) this.latencyLayout = true;
    else if (m[4] !== undefined || flags !== undefined) this.dialect ??= "tracefs";
    const whole = m[9] as string;
    const frac = m[10];
    let ts: bigint | null;
    if (frac === undefined) {
      this.tsForms.add("integer");
      ts = digitsToU64(whole);
    } else {
      this.tsForms.add(frac.length === 6 ? "usec" : frac.length === 9 ? "nsec" : "other");
      ts = decimalSecondsToNs(whole, frac);
    }
    if (ts === null) {
      this.sink.warn(`${this.path}: line ${lineNo}: timestamp ${whole}${frac === undefined ? "" : `.${frac}`} is not a u64 (or has more than 9 decimals); line skipped`);
      return;
    }
    const cpu = Number(cpuText);
    const pid = Number(m[3]);
    const tgid = m[4];
    const commText = m[2] as string;
    const comm = commText === "<...>" ? null : commText;
    const rest = m[11] as string;
    let name: string;
    let fields: EventFields;
    const nm = EVENT_NAME.exec(rest);
    if (nm === null) {
      const f = FUNCTION.exec(rest);
      name = "ftrace:function";
      fields = f === null ? { text: rest } : f[2] === undefined ? { ip: f[1] as string } : { ip: f[1] as string, parent_ip: f[2] };
    } else {
      const bare = nm[1] as string;
      const payload = rest.slice(nm[0].length);
      ({ name, fields } = this.decode(bare, payload));
    }
    let cpus = this.buffers.get(buffer);
    if (cpus === undefined) this.buffers.set(buffer, (cpus = new Set()));
    cpus.add(cpu);
    if (this.pendingLost.length > 0) this.flushLost(ts, cpu, buffer);
    this.lastTs = ts;
    this.sink.event({ ts, cpu, pid: tgid === undefined || tgid.startsWith("-") ? -1 : Number(tgid), tid: pid, comm, name, fields, buffer });
  }

  private decode(bare: string, payload: string): { name: string; fields: EventFields } {
    // tracefs prints the ftrace print event as its caller's symbol and the text; trace-cmd as `print: ip: text`.
    if (bare === "tracing_mark_write") return { name: "ftrace:print", fields: { ip: bare, buf: payload } };
    if (bare === "print") {
      // `report -R` prints the raw fields; otherwise `ip: text` (ip as a symbol, or in hex without kallsyms).
      const p = PRINT_RAW.exec(payload) ?? PRINT_PAYLOAD.exec(payload);
      return { name: "ftrace:print", fields: p === null ? { buf: payload } : { ip: printedValue(p[1] as string), buf: p[2] as string } };
    }
    const name = qualifyEventName(bare);
    // trace-cmd's plugin layouts; the patterns have two open-ended parts, so only short payloads are tried.
    if (payload.length <= 1024) {
      if (bare === "sched_switch") {
        const s = PLUGIN_SWITCH.exec(payload);
        if (s !== null) {
          return {
            name,
            fields: { prev_comm: s[1] as string, prev_pid: Number(s[2]), prev_prio: Number(s[3]), prev_state: s[4] as string, next_comm: s[5] as string, next_pid: Number(s[6]), next_prio: Number(s[7]) },
          };
        }
      } else if (bare === "sched_wakeup" || bare === "sched_waking" || bare === "sched_wakeup_new") {
        const w = PLUGIN_WAKEUP.exec(payload);
        if (w !== null) {
          const f: EventFields = { comm: w[1] as string, pid: Number(w[2]), prio: Number(w[3]) };
          if (w[4] !== undefined) f.success = Number(w[4]);
          f.target_cpu = Number(w[5]);
          return { name, fields: f };
        }
      }
    }
    return { name, fields: parseKeyValues(payload) };
  }

  private otherLine(text: string, lineNo: number): void {
    if (text.length === 0 || text.trim().length === 0) return;
    if (text.startsWith("#")) {
      this.header(text);
      return;
    }
    const lost = LOST_TRACEFS.exec(text) ?? LOST_TRACE_CMD.exec(text);
    if (lost !== null) {
      const count = lost[3] === undefined ? null : lost[3].length <= 15 ? Number(lost[3]) : BigInt(lost[3]);
      this.pendingLost.push({ cpu: Number(lost[2]), count, buffer: lost[1] ?? "" });
      this.carryBuffer = lost[1] ?? null;
      this.sink.warn(`${this.path}: line ${lineNo}: CPU ${lost[2]} lost ${count ?? "an unknown number of"} events${lost[1] ? ` (buffer ${lost[1]})` : ""}`);
      return;
    }
    let h: RegExpExecArray | null;
    if ((h = CPUS.exec(text)) !== null) {
      this.dialect ??= "trace-cmd";
      this.cpuCount = Number(h[1]);
      return;
    }
    if (VERSION.test(text)) {
      this.dialect ??= "trace-cmd";
      return;
    }
    if (EMPTY_CPU.test(text)) return;
    if (text.startsWith(" => ") || text.startsWith(" <stack trace>") || text.startsWith(" <user stack trace>")) {
      if (this.stackLines++ === 0) this.firstStackLine = lineNo;
      return;
    }
    this.sink.warn(`${this.path}: line ${lineNo}: not an ftrace event line, skipped: ${JSON.stringify(text.slice(0, 80))}`);
  }

  private header(text: string): void {
    let h: RegExpExecArray | null;
    if ((h = TRACER.exec(text)) !== null) {
      this.dialect ??= "tracefs";
      this.tracer = h[1] as string;
      if (this.tracer === "function_graph" || this.tracer === "blk" || this.tracer === "mmiotrace") {
        throw new ClocksourceError("INVALID_TRACE", `${this.path}: the ${this.tracer} tracer's text layout is not supported (record events or the function tracer, or read the trace.dat)`);
      }
      return;
    }
    if ((h = ENTRIES.exec(text)) !== null) {
      this.dialect ??= "tracefs";
      this.cpuCount = Number(h[3]);
      const inBuffer = BigInt(h[1] as string);
      const written = BigInt(h[2] as string);
      if (written > inBuffer) this.overwritten = written - inBuffer;
      return;
    }
    if (/latency trace v\d/.test(text)) {
      throw new ClocksourceError("INVALID_TRACE", `${this.path}: latency-format text has relative times, not timestamps; not supported (turn the latency-format option off)`);
    }
  }

  /** Lost-event markers take the time of the event that follows them on their CPU. */
  private flushLost(ts: bigint, cpu: number, buffer: string): void {
    const keep: typeof this.pendingLost = [];
    for (const l of this.pendingLost) {
      if (l.cpu === cpu && l.buffer === buffer) this.emitLost(l, ts);
      else keep.push(l);
    }
    this.pendingLost = keep;
  }

  private emitLost(l: { cpu: number; count: number | bigint | null; buffer: string }, ts: bigint): void {
    this.sink.event({ ts, cpu: l.cpu, pid: -1, tid: -1, comm: null, name: "lost", fields: l.count === null ? {} : { count: l.count }, buffer: l.buffer });
  }

  end(): void {
    for (const l of this.pendingLost) this.emitLost(l, this.lastTs);
    this.pendingLost = [];
    if (this.stackLines > 0) this.sink.warn(`${this.path}: ${this.stackLines} stack-trace line(s) skipped (first: line ${this.firstStackLine}); stacks are not part of the event model`);
  }

  private clock(): { clock: TraceClock; notes: string[] } {
    const notes: string[] = [];
    const forms = this.tsForms;
    const decimal = forms.has("usec") || forms.has("nsec") || forms.has("other");
    const declared = declaredClock(this.options);
    let clock: TraceClock;
    if (declared !== null) {
      clock = declared;
      if (this.dialect === "tracefs" && decimal && declared.unit === "ticks") {
        notes.push(`${this.path}: --clock ${declared.name} counts ticks, but the text prints sec.usec timestamps, which tracefs uses only for ns clocks`);
      }
    } else if (decimal && this.dialect === "tracefs") {
      clock = { name: null, unit: "ns", source: "tracefs prints sec.usec only for ns clocks; the text does not name the clock" };
      notes.push(`${this.path}: the text does not name its trace clock; pass --clock NAME (local, mono, boot, …)`);
    } else {
      clock = { name: null, unit: "unknown", source: "not in the text" };
      notes.push(`${this.path}: the text does not name its trace clock; pass --clock NAME (x86-tsc, mono, local, …)`);
    }
    if (forms.size > 1) notes.push(`${this.path}: timestamps are printed in more than one form (${[...forms].join(", ")})`);
    if (this.latencyLayout) notes.push(`${this.path}: trace-cmd report -l cuts comms to 8 characters`);
    if (this.overwritten > 0n) notes.push(`${this.path}: the ring buffer overwrote ${this.overwritten} event(s) before this text was written (entries-in-buffer/entries-written)`);
    return { clock, notes };
  }

  describe() {
    const { clock, notes } = this.clock();
    const buffers: BufferInfo[] = [];
    const names = this.buffers.size === 0 ? [""] : [...this.buffers.keys()].sort();
    for (const name of names) buffers.push({ name, clock, cpus: [...(this.buffers.get(name) ?? [])].sort((a, b) => a - b) });
    const properties: Record<string, string> = {};
    if (this.dialect !== null) properties.dialect = this.dialect === "tracefs" ? "tracefs (trace, trace_pipe)" : "trace-cmd report";
    if (this.tracer !== null) properties.tracer = this.tracer;
    const forms = this.tsForms;
    // sec.usec is how tracefs and trace-cmd print ns clocks by default: a property of the text, not damage.
    if (forms.has("usec")) properties.timestampPrecision = "1 µs: printed as sec.usec, the last 3 digits of each ns value are not in the text (trace-cmd report -t or --raw-ts prints them)";
    else if (forms.has("nsec")) properties.timestampPrecision = "exact: printed as sec.nsec";
    else if (forms.has("integer")) properties.timestampPrecision = "exact: raw values";
    return {
      info: { version: null, compression: null, clock, buffers, cpuCount: this.cpuCount, timeRecords: {}, properties },
      notes,
    };
  }
}
