/**
 * Lines of `perf script` text: `comm tid [cpu] sec.nsec: [period] event: rest`,
 * with any of the fields the user chose (`-F`). `time` is required;
 * `cpu` and `tid` (or `pid,tid`) are strongly recommended, `comm` and
 * `event` recommended. Callchain lines (a leading tab) are skipped.
 */
import { ClocksourceError } from "@clocksource/core";
import type { EventFields, TimeRecords, TraceClock } from "../../model/event.js";
import { declaredClock } from "../text/clock-unit.js";
import { parseKeyValues, printedValue } from "../text/key-values.js";
import type { LineParser, LineSink, TextReaderOptions } from "../text/line-trace-reader.js";
import { decimalSecondsToNs } from "../text/timestamp.js";

/** The time field: the first `digits.digits:` standing on its own. */
export const PERF_TIME = /(?:^|\s)(\d+)\.(\d+):(?:\s|$)/;
const CPU_DIGITS = /^[0-9]+$/;
const IDS_SUFFIX = /(?:^|\s)(\d+)(?:\/(\d+))?$/;
const PERIOD_AND_EVENT = /^(?:(\d+) +)?(\S+?):(?: +|$)/;
const SAMPLE_IP = /^([0-9a-f]+)(?: +(.*?))?(?: +\(([^()]*)\))?$/;
const RECORD = /^(PERF_RECORD_[A-Z0-9_]+)(.*)$/;
const FORK_EXIT = /^\((-?\d+):(-?\d+)\):\((-?\d+):(-?\d+)\)$/;
const COMM_REC = /^( exec)?: (.*):(-?\d+)\/(-?\d+)$/;
const NRCPUS = /^# nrcpus avail : (\d+)/;
/** `perf script --header` lines kept as properties, named as the perf.data reader names them. */
const HEADER_PROPS: Record<string, string> = { hostname: "hostname", "os release": "osRelease", "perf version": "perfVersion", arch: "arch", cpudesc: "cpuDesc", cpuid: "cpuId", cmdline: "cmdline" };
const HEADER_PROP = /^# (hostname|os release|perf version|arch|cpudesc|cpuid|cmdline) : (.*)$/;
const CLOCKID = /^# clockid: (\S+) \((\d+)\)/;
const REFERENCE = /^# reference time: .* = (\d+)\.(\d+) \(TOD\) = (\d+)\.(\d+) \((\S+)\)/;

/** POSIX clockid → the name perf and the event model use. */
const CLOCK_NAMES: Record<number, string> = {
  0: "CLOCK_REALTIME",
  1: "CLOCK_MONOTONIC",
  4: "CLOCK_MONOTONIC_RAW",
  7: "CLOCK_BOOTTIME",
  11: "CLOCK_TAI",
};

/** What to print when the text lacks the time field. */
export const PERF_FIELDS_NEEDED =
  "perf script text needs the time field, in ns: perf script --ns -F comm,pid,tid,cpu,time,event,trace,ip,sym (time is required; cpu and tid strongly recommended)";

/** Creates the `perf script` line parser. */
export function createPerfScriptParser(sink: LineSink, options: TextReaderOptions, path: string): LineParser {
  return new PerfScriptParser(sink, options, path);
}

class PerfScriptParser implements LineParser {
  private events = 0;
  private header = false;
  private cpuCount: number | null = null;
  private clockId: number | null = null;
  private clockIdName: string | null = null;
  private clockData: TimeRecords["perfClockData"] | undefined;
  private readonly forms = new Set<number>();
  private readonly cpus = new Set<number>();
  private missing: string[] | null = null;
  private callchainLines = 0;
  private readonly headerProps: Record<string, string> = {};

  constructor(
    private readonly sink: LineSink,
    private readonly options: TextReaderOptions,
    private readonly path: string,
  ) {}

  line(text: string, lineNo: number): void {
    if (text.length === 0) return;
    const c0 = text.charCodeAt(0);
    if (c0 === 9 /* tab: a callchain frame */) {
      this.callchainLines++;
      return;
    }
    if (c0 === 35 /* # */) {
      this.headerLine(text);
      return;
    }
    const t = PERF_TIME.exec(text);
    if (t === null) {
      if (text.trim().length === 0) return;
      if (this.events === 0) throw new ClocksourceError("INVALID_TRACE", `${this.path}: line ${lineNo}: no time field; ${PERF_FIELDS_NEEDED}`);
      this.sink.warn(`${this.path}: line ${lineNo}: not a perf script sample line (no time field), skipped: ${JSON.stringify(text.slice(0, 80))}`);
      return;
    }
    const frac = t[2] as string;
    const ts = decimalSecondsToNs(t[1] as string, frac);
    if (ts === null) {
      this.sink.warn(`${this.path}: line ${lineNo}: time ${t[1]}.${frac} is not a u64 count of ns; line skipped`);
      return;
    }
    this.forms.add(frac.length);
    const start = t.index + (t[0].startsWith(" ") || t[0].startsWith("\t") ? 1 : 0);
    let prefix = text.slice(0, start).trimEnd();
    let cpu = -1;
    // By hand, not /\s*\[(\d+)\]$/: that pattern retries every space of a long run.
    if (prefix.endsWith("]")) {
      const open = prefix.lastIndexOf("[");
      const digits = prefix.slice(open + 1, -1);
      if (open >= 0 && digits.length > 0 && digits.length <= 6 && CPU_DIGITS.test(digits)) {
        cpu = Number(digits);
        prefix = prefix.slice(0, open).trimEnd();
      }
    }
    let pid = -1;
    let tid = -1;
    const ids = IDS_SUFFIX.exec(prefix);
    if (ids !== null) {
      if (ids[2] !== undefined) {
        pid = Number(ids[1]);
        tid = Number(ids[2]);
      } else tid = Number(ids[1]);
      prefix = prefix.slice(0, ids.index).trimEnd();
    }
    const commText = prefix.trim();
    const comm = commText.length === 0 ? null : commText;
    if (this.missing === null) {
      this.missing = [];
      if (cpu < 0) this.missing.push("cpu");
      if (tid < 0) this.missing.push("tid");
    }
    let rest = text.slice(start + t[0].trimStart().length).trimStart();
    let name = "unknown";
    let fields: EventFields;
    const r = RECORD.exec(rest);
    if (r !== null) {
      ({ name, fields } = sideband(r[1] as string, r[2] as string));
      // The line's own pid/tid are the context the record came in; the record is about its task.
      if (typeof fields.tid === "number" && typeof fields.pid === "number") {
        pid = fields.pid;
        tid = fields.tid;
      }
    } else {
      const pe = PERIOD_AND_EVENT.exec(rest);
      let period: number | bigint | null = null;
      if (pe !== null) {
        name = pe[2] as string;
        if (pe[1] !== undefined) period = printedValue(pe[1]) as number | bigint;
        rest = rest.slice(pe[0].length);
      }
      fields = payloadFields(rest);
      if (period !== null) fields = { period, ...fields };
    }
    if (cpu >= 0) this.cpus.add(cpu);
    this.events++;
    this.sink.event({ ts, cpu, pid, tid, comm, name, fields, buffer: "" });
  }

  private headerLine(text: string): void {
    let h: RegExpExecArray | null;
    if (text.startsWith("# ========") || text.startsWith("# captured on")) this.header = true;
    else if ((h = NRCPUS.exec(text)) !== null) this.cpuCount = Number(h[1]);
    else if ((h = HEADER_PROP.exec(text)) !== null) this.headerProps[HEADER_PROPS[h[1] as string] as string] = (h[2] as string).trim();
    else if ((h = CLOCKID.exec(text)) !== null) {
      this.clockId = Number(h[2]);
      this.clockIdName = CLOCK_NAMES[this.clockId] ?? `clockid ${this.clockId} (${h[1]})`;
    } else if ((h = REFERENCE.exec(text)) !== null && this.clockId !== null) {
      const wall = decimalSecondsToNs(h[1] as string, h[2] as string);
      const clk = decimalSecondsToNs(h[3] as string, h[4] as string);
      if (wall !== null && clk !== null) this.clockData = { clockId: this.clockId, wallClockNs: wall, clockIdTimeNs: clk };
    }
  }

  end(): void {
    if (this.callchainLines > 0) this.sink.warn(`${this.path}: ${this.callchainLines} callchain line(s) skipped; stacks are not part of the event model`);
  }

  private clock(): { clock: TraceClock; notes: string[] } {
    const notes: string[] = [];
    const declared = declaredClock(this.options);
    let clock: TraceClock;
    if (declared !== null) clock = declared;
    else if (this.clockIdName !== null) clock = { name: this.clockIdName, unit: "ns", source: "perf script --header (clockid)" };
    else if (this.header) clock = { name: "perf", unit: "ns", source: "perf script --header without a clockid: perf's default clock" };
    else {
      clock = { name: null, unit: "ns", source: "perf script prints ns; the text does not name the clock" };
      notes.push(`${this.path}: the text does not name its clock; pass --clock NAME (perf for perf's default, CLOCK_MONOTONIC after perf record -k CLOCK_MONOTONIC, …) or print it with perf script --header`);
    }
    if ([...this.forms].some((d) => d < 9)) notes.push(`${this.path}: times are printed with fewer than 9 decimals: ns digits are lost (use perf script --ns)`);
    if (this.missing !== null && this.missing.length > 0) notes.push(`${this.path}: lines carry no ${this.missing.join(" or ")} field: those are -1 in every event (add -F ${this.missing.join(",")})`);
    return { clock, notes };
  }

  describe() {
    const { clock, notes } = this.clock();
    const timeRecords: TimeRecords = {
      ...(this.clockId !== null ? { perfClockId: this.clockId } : {}),
      ...(this.clockData !== undefined ? { perfClockData: this.clockData } : {}),
    };
    return {
      info: {
        version: null,
        compression: null,
        clock,
        buffers: [{ name: "", clock, cpus: [...this.cpus].sort((a, b) => a - b) }],
        cpuCount: this.cpuCount,
        timeRecords,
        properties: this.properties(),
      },
      notes,
    };
  }

  private properties(): Record<string, string> {
    const p: Record<string, string> = { ...this.headerProps };
    const forms = [...this.forms];
    if (forms.length > 0) p.timestampPrecision = forms.every((d) => d === 9) ? "exact: printed as sec.nsec (--ns)" : `printed with ${Math.min(...forms)} decimals: ns digits are not in the text`;
    if (this.clockData !== undefined) p.referenceTimePrecision = "the header's wall clock (TOD) is printed to the µs";
    return p;
  }
}

/** A sample's rest: `ip sym+off (dso)` for samples, `name=value …` for tracepoints. */
function payloadFields(rest: string): EventFields {
  const s = rest.trim();
  if (s.length === 0) return {};
  // The pattern's optional parts backtrack over spaces: only short payloads go through it.
  const ip = s.length <= 4096 ? SAMPLE_IP.exec(s) : null;
  if (ip !== null && s.indexOf("=") < 0) {
    const f: EventFields = { ip: printedValue(`0x${ip[1]}`) };
    if (ip[2] !== undefined && ip[2].length > 0) f.sym = ip[2];
    if (ip[3] !== undefined) f.dso = ip[3];
    return f;
  }
  return parseKeyValues(s);
}

/** perf's sideband records, as the binary reader names them (`perf:comm`, …). */
function sideband(kind: string, rest: string): { name: string; fields: EventFields } {
  const short = kind.slice("PERF_RECORD_".length).toLowerCase();
  if (short === "fork" || short === "exit") {
    const m = FORK_EXIT.exec(rest);
    if (m !== null) return { name: `perf:${short}`, fields: { pid: Number(m[1]), tid: Number(m[2]), ppid: Number(m[3]), ptid: Number(m[4]) } };
  }
  if (short === "comm") {
    const m = COMM_REC.exec(rest);
    if (m !== null) return { name: "perf:comm", fields: { pid: Number(m[3]), tid: Number(m[4]), comm: m[2] as string, exec: m[1] === undefined ? 0 : 1 } };
  }
  const name = short === "lost" || short === "lost_samples" ? "lost" : `perf:${short.startsWith("mmap") ? "mmap" : short}`;
  const text = rest.replace(/^:\s*/, "").trim();
  return { name, fields: text.length > 0 ? { text } : {} };
}
