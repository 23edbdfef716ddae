/**
 * Numbers of the perf.data format: record types, `sample_type` and
 * `read_format` bits, header feature bits, clock ids. Values from the kernel's
 * `include/uapi/linux/perf_event.h` and perf's `util/event.h` / `util/header.h`
 * (they are ABI: they never change meaning).
 */

/** Record types (`perf_event_header.type`). Below 64 the kernel writes them; from 64 on, perf itself. */
export const Rec = {
  MMAP: 1,
  LOST: 2,
  COMM: 3,
  EXIT: 4,
  THROTTLE: 5,
  UNTHROTTLE: 6,
  FORK: 7,
  READ: 8,
  SAMPLE: 9,
  MMAP2: 10,
  AUX: 11,
  ITRACE_START: 12,
  LOST_SAMPLES: 13,
  SWITCH: 14,
  SWITCH_CPU_WIDE: 15,
  NAMESPACES: 16,
  KSYMBOL: 17,
  BPF_EVENT: 18,
  CGROUP: 19,
  TEXT_POKE: 20,
  AUX_OUTPUT_HW_ID: 21,
  /** Kernel records of this number and up are unknown to this reader. */
  KERNEL_MAX: 22,
  HEADER_ATTR: 64,
  HEADER_EVENT_TYPE: 65,
  HEADER_TRACING_DATA: 66,
  HEADER_BUILD_ID: 67,
  FINISHED_ROUND: 68,
  ID_INDEX: 69,
  AUXTRACE_INFO: 70,
  AUXTRACE: 71,
  AUXTRACE_ERROR: 72,
  THREAD_MAP: 73,
  CPU_MAP: 74,
  STAT_CONFIG: 75,
  STAT: 76,
  STAT_ROUND: 77,
  EVENT_UPDATE: 78,
  TIME_CONV: 79,
  HEADER_FEATURE: 80,
  COMPRESSED: 81,
  FINISHED_INIT: 82,
  COMPRESSED2: 83,
  /** perf's own records of this number and up are unknown to this reader. */
  USER_MAX: 84,
} as const;

/** `perf_event_attr.sample_type` bits. */
export const Sample = {
  IP: 1 << 0,
  TID: 1 << 1,
  TIME: 1 << 2,
  ADDR: 1 << 3,
  READ: 1 << 4,
  CALLCHAIN: 1 << 5,
  ID: 1 << 6,
  CPU: 1 << 7,
  PERIOD: 1 << 8,
  STREAM_ID: 1 << 9,
  RAW: 1 << 10,
  IDENTIFIER: 1 << 16,
} as const;

/** `perf_event_attr.read_format` bits. */
export const ReadFormat = {
  TOTAL_TIME_ENABLED: 1 << 0,
  TOTAL_TIME_RUNNING: 1 << 1,
  ID: 1 << 2,
  GROUP: 1 << 3,
  LOST: 1 << 4,
} as const;

/** `perf_event_attr` flag bits (the bitfield word at offset 40). */
export const AttrFlag = {
  SAMPLE_ID_ALL: 18,
  USE_CLOCKID: 25,
} as const;

/** `perf_event_header.misc` bits that change a record's layout. */
export const Misc = {
  COMM_EXEC: 1 << 13,
  MMAP_BUILD_ID: 1 << 14,
} as const;

/** `perf_event_attr.type`. */
export const AttrType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

/** Header feature bits (the bitmap after the file header; HEADER_FEATURE records in pipe mode). */
export const Feat = {
  TRACING_DATA: 1,
  BUILD_ID: 2,
  HOSTNAME: 3,
  OSRELEASE: 4,
  VERSION: 5,
  ARCH: 6,
  NRCPUS: 7,
  CPUDESC: 8,
  CPUID: 9,
  TOTAL_MEM: 10,
  CMDLINE: 11,
  EVENT_DESC: 12,
  CPU_TOPOLOGY: 13,
  NUMA_TOPOLOGY: 14,
  BRANCH_STACK: 15,
  PMU_MAPPINGS: 16,
  GROUP_DESC: 17,
  AUXTRACE: 18,
  STAT: 19,
  CACHE: 20,
  SAMPLE_TIME: 21,
  MEM_TOPOLOGY: 22,
  CLOCKID: 23,
  DIR_FORMAT: 24,
  BPF_PROG_INFO: 25,
  BPF_BTF: 26,
  COMPRESSED: 27,
  CPU_PMU_CAPS: 28,
  CLOCK_DATA: 29,
  HYBRID_TOPOLOGY: 30,
  PMU_CAPS: 31,
  /** Feature bits from here on are unknown to this reader (skipped with a warning). */
  KNOWN_MAX: 32,
} as const;

/** Linux clock ids, by the names `perf record -k` accepts. */
export const CLOCK_NAMES: Readonly<Record<number, string>> = {
  0: "CLOCK_REALTIME",
  1: "CLOCK_MONOTONIC",
  2: "CLOCK_PROCESS_CPUTIME_ID",
  3: "CLOCK_THREAD_CPUTIME_ID",
  4: "CLOCK_MONOTONIC_RAW",
  5: "CLOCK_REALTIME_COARSE",
  6: "CLOCK_MONOTONIC_COARSE",
  7: "CLOCK_BOOTTIME",
  8: "CLOCK_REALTIME_ALARM",
  9: "CLOCK_BOOTTIME_ALARM",
  11: "CLOCK_TAI",
};

/** Names perf gives generic hardware events (`PERF_TYPE_HARDWARE` configs), used when the file has no EVENT_DESC. */
export const HARDWARE_NAMES: readonly string[] = [
  "cycles",
  "instructions",
  "cache-references",
  "cache-misses",
  "branches",
  "branch-misses",
  "bus-cycles",
  "stalled-cycles-frontend",
  "stalled-cycles-backend",
  "ref-cycles",
];

/** Names perf gives software events (`PERF_TYPE_SOFTWARE` configs), used when the file has no EVENT_DESC. */
export const SOFTWARE_NAMES: readonly string[] = [
  "cpu-clock",
  "task-clock",
  "page-faults",
  "context-switches",
  "cpu-migrations",
  "minor-faults",
  "major-faults",
  "alignment-faults",
  "emulation-faults",
  "dummy",
  "bpf-output",
  "cgroup-switches",
];

/** Size of the PERFILE2 file-mode header; a pipe-mode header is 16 bytes. */
export const FILE_HEADER_SIZE = 104;
export const PIPE_HEADER_SIZE = 16;
/** The smallest `perf_event_attr` (PERF_ATTR_SIZE_VER0), enough for everything read here up to `flags`. */
export const ATTR_SIZE_VER0 = 64;
