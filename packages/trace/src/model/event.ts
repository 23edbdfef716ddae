/**
 * The one event model every reader produces.
 *
 * A trace is a stream of {@link TraceEvent}s in time order (per the trace's own
 * clock), plus a {@link TraceInfo} that says what the file is and every
 * time-related record it carries. Readers never convert time: `ts` is the raw
 * timestamp exactly as the file stores it, in the clock of {@link TraceInfo.clock}
 * (or of the event's buffer, see {@link BufferInfo.clock}). Mapping it to another
 * machine's time base is the merger's job.
 */

/** A decoded field value. Integers up to 32 bits are numbers; 64-bit ones are bigints (exact). */
export type FieldValue = number | bigint | string | readonly number[] | readonly bigint[] | Uint8Array | null;

/** Decoded fields of one event, by field name (common_* fields excluded). */
export type EventFields = Record<string, FieldValue>;

/** One event, whatever the format it was read from. */
export interface TraceEvent {
  /** Raw timestamp (u64) in the clock of the event's buffer. */
  readonly ts: bigint;
  /** CPU (for a guest: the vCPU index); -1 when the format does not say. */
  readonly cpu: number;
  /** Process id (thread-group id); -1 when unknown. */
  readonly pid: number;
  /** Thread id; -1 when unknown. For ftrace events this is `common_pid`. */
  readonly tid: number;
  /** Command name of the thread, when the file knows it (saved cmdlines, COMM records, the text). */
  readonly comm: string | null;
  /**
   * `system:name` for tracepoints (`sched:sched_switch`, `ftrace:print`);
   * perf's event name for other samples (`cpu-clock`, `cycles`); sideband
   * records as `perf:comm`, `perf:fork`, `perf:exit`, `perf:mmap`; lost-event
   * markers as `lost` (with a `count` field when known).
   */
  readonly name: string;
  /** Decoded fields (tracepoint payload, or sample fields such as `ip`, `period`). */
  readonly fields: EventFields;
  /** The buffer (trace.dat instance) the event came from; "" for the top-level buffer. */
  readonly buffer: string;
}

/** How a clock counts. */
export type ClockUnit = "ticks" | "ns" | "unknown";

/** The clock a trace's (or buffer's) timestamps are in. */
export interface TraceClock {
  /**
   * The clock's name as the tool calls it: ftrace's `trace_clock` names (`local`,
   * `global`, `mono`, `mono_raw`, `boot`, `x86-tsc`, `counter`, `uptime`, `perf`, `tai`),
   * perf's clockid names (`CLOCK_MONOTONIC`, …, `perf` for perf's default clock), or
   * what the user declared for a text or JSON lines input. null when unknown.
   */
  readonly name: string | null;
  /** Whether timestamps count counter ticks or nanoseconds. */
  readonly unit: ClockUnit;
  /** Where the name came from (`TRACECLOCK option`, `HEADER_CLOCKID`, `--clock`, `default`, …). */
  readonly source: string;
}

/** One buffer (trace.dat instance); a single-buffer trace has one, named "". */
export interface BufferInfo {
  readonly name: string;
  readonly clock: TraceClock;
  /** CPUs that have data in this buffer. */
  readonly cpus: readonly number[];
}

/** trace-cmd TIME_SHIFT: per-CPU samples that map this (guest) trace onto its host. */
export interface TimeShiftRecord {
  /** The host trace's TRACEID this file is shifted onto. */
  readonly peerTraceId: bigint;
  /** Flags (bit 0 = TRACECMD_TSYNC_FLAG_INTERPOLATE). */
  readonly flags: number;
  /** Per CPU: sample times (in this trace's clock), offsets (i64), scaling ratios, fraction bits. */
  readonly cpus: readonly {
    readonly times: readonly bigint[];
    readonly offsets: readonly bigint[];
    readonly scalings: readonly bigint[];
    /** Per sample; all 0 when the file has no fractions block. */
    readonly fractions: readonly number[];
  }[];
}

/** trace-cmd GUEST: a guest traced alongside this (host) trace. */
export interface GuestRecord {
  readonly name: string;
  readonly traceId: bigint;
  /** vCPU index → host thread id running it. */
  readonly vcpuThreads: readonly { readonly vcpu: number; readonly tid: number }[];
}

/** trace-cmd TSC2NSEC / perf TIME_CONV shared shape: ns = ((ticks × mult) >> shift) + offset. */
export interface TscConversion {
  readonly mult: number;
  readonly shift: number;
  readonly offset: bigint;
}

/** perf's TIME_CONV record (perf time ↔ TSC). */
export interface PerfTimeConv {
  readonly timeShift: number;
  readonly timeMult: number;
  readonly timeZero: bigint;
  /** Present in the longer record form (perf ≥ 5.10). */
  readonly timeCycles?: bigint;
  readonly timeMask?: bigint;
  readonly capUserTimeZero?: boolean;
  readonly capUserTimeShort?: boolean;
}

/** Every time-related record the file carries; absent members were not in the file. */
export interface TimeRecords {
  /** trace-cmd TRACEID. */
  readonly traceId?: bigint;
  readonly timeShift?: TimeShiftRecord;
  readonly guests?: readonly GuestRecord[];
  readonly tsc2nsec?: TscConversion;
  /** perf TIME_CONV. */
  readonly perfTimeConv?: PerfTimeConv;
  /** perf: the clockid_t of the recording clock (`perf record -k`), from `perf_event_attr.clockid` or HEADER_CLOCK_DATA. */
  readonly perfClockId?: number;
  /** perf HEADER_CLOCKID: despite its name, the resolution of the recording clock in ns (`clock_getres`). */
  readonly perfClockResolutionNs?: bigint;
  /** perf HEADER_CLOCK_DATA: wall clock and clockid time read together. */
  readonly perfClockData?: { readonly clockId: number; readonly wallClockNs: bigint; readonly clockIdTimeNs: bigint };
}

/** The formats readers understand. */
export type TraceFormat = "trace-cmd" | "perf.data" | "ftrace-text" | "perf-script" | "jsonl";

/** What a trace file is and holds, known once it is opened (before reading events). */
export interface TraceInfo {
  readonly format: TraceFormat;
  /** Format version (`6`, `7` for trace.dat; `PERFILE2`; null for text). */
  readonly version: string | null;
  /** Compression (`none`, `zlib`, `zstd`), or null when the format has none. */
  readonly compression: string | null;
  /** The clock of the top-level buffer (the whole trace, for single-buffer formats). */
  readonly clock: TraceClock;
  readonly buffers: readonly BufferInfo[];
  /** Number of CPUs the file declares, or null. */
  readonly cpuCount: number | null;
  readonly timeRecords: TimeRecords;
  /** Non-fatal problems found while opening (each names the offset or line). */
  readonly warnings: readonly string[];
  /**
   * Other facts the file states, as text: for perf.data `mode` (`file`/`pipe`), `hostname`,
   * `osRelease`, `perfVersion`, `arch`, `cpuDesc`, `cpuId`, `cmdline`, `totalMemKiB`,
   * `firstSampleTime`, `lastSampleTime` when present.
   */
  readonly properties?: Readonly<Record<string, string>>;
}

/**
 * An opened trace. `batches()` streams events in time order (by `ts`, ties by
 * CPU then file order) in bounded memory; it can be iterated once. Problems
 * found while reading (a damaged page, lost events) go to `warnings` as they
 * are found, each naming the offset; a file that cannot be read any further
 * throws a `ClocksourceError` (`INVALID_TRACE`), after the events before the
 * damage were delivered.
 */
export interface TraceReader {
  readonly info: TraceInfo;
  /** Warnings so far (grows while reading). */
  readonly warnings: readonly string[];
  batches(): AsyncIterable<readonly TraceEvent[]>;
  /** Releases the file. Safe to call twice. */
  close(): Promise<void>;
}
