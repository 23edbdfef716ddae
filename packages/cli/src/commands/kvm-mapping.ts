import { buildMappingFile, ClocksourceError, DOMAIN, planUserFileWrite, writeMappingFile, type EpochInput, type MappingFile } from "@clocksource/core";
import {
  epochGuestRanges,
  findKvmVm,
  kvmEpochInputs,
  kvmTscCodec,
  nativeReader,
  readKvmVmTsc,
  sameVmTsc,
  type KvmTscParams,
  type WatchedKvmEpoch,
} from "@clocksource/x86";
import { UsageError, type CliIo } from "../cli-io.js";
import { cliVersion } from "../package-versions.js";
import { parseOptions } from "../parse-options.js";

export const summary = "on a KVM host: write a VM's exact guest→host TSC mapping from KVM debugfs";

export const help = `Usage: clocksource kvm-mapping (--pid PID | --vm PID-FD) [--debugfs DIR] [--out FILE] [--watch [--interval MS]]

Reads the TSC offset and scaling of every vCPU of one VM from KVM's debugfs,
DIR/kvm/<pid>-<fd>/vcpu<N>/{tsc-offset, tsc-scaling-ratio,
tsc-scaling-ratio-frac-bits}, and writes a mapping file (kind kvm-x86-tsc,
guest.tsc → host.tsc; docs/mapping-files.md) to stdout or FILE. Needs root to
read debugfs.

Options:
  --pid PID        the VMM process id (QEMU, Firecracker, …); it must run one VM
  --vm PID-FD      the VM directory's name under DIR/kvm, for a process running
                   several VMs (the error for --pid lists them)
  --debugfs DIR    where debugfs is mounted (default /sys/kernel/debug)
  --out FILE       write here instead of stdout. "-" and /dev/stdout are stdout;
                   a regular file is replaced atomically (complete or not at
                   all, keeping its permissions); a symlink is followed and its
                   target replaced; /dev/null and terminals are written in place;
                   a directory, FIFO, socket or other device is refused
  --watch          keep polling; append an epoch whenever any vCPU's parameters
                   change (pause/resume, migration, a guest writing its TSC),
                   bounded in the guest's TSC by the host TSC around the polls;
                   a guest TSC that wraps past 2^64 splits its epoch in two.
                   Needs --out naming a regular file and the native reader.
                   Stops cleanly on SIGINT/SIGTERM, leaving a complete file.
  --interval MS    polling interval for --watch (default 1000, 10..3600000)
  -h, --help       show this help

Exit status: 0 done, 1 failure at run time (debugfs or the VM missing or
unreadable, a malformed value, a VM that vanished while watched), 2 usage error.

Examples:
  clocksource kvm-mapping --pid "$(pgrep -o qemu-system)" --out vm.mapping.json
                                       the VM's exact guest → host TSC mapping
  clocksource kvm-mapping --pid 4242 --out vm.mapping.json --watch
                                       keep it current across pause, resume, migration
  clocksource convert --mapping vm.mapping.json < guest-tsc.txt
                                       use it: guest TSC values to host TSC values

Environment:
  CLOCKSOURCE_NATIVE  0: do not load the native counter reader (--watch needs it)
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;
function producer(): string {
  return `clocksource kvm-mapping ${cliVersion()}`;
}

function build(epochs: readonly EpochInput<KvmTscParams>[], origin: Record<string, string | number | string[]>): MappingFile {
  return buildMappingFile(kvmTscCodec, { from: DOMAIN.guestTsc, to: DOMAIN.hostTsc, producer: producer(), origin, epochs });
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("kvm-mapping", args, {
    options: {
      pid: { type: "string" },
      vm: { type: "string" },
      debugfs: { type: "string" },
      out: { type: "string" },
      watch: { type: "boolean", default: false },
      interval: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (values.pid === undefined && values.vm === undefined) throw new UsageError("kvm-mapping: --pid PID (or --vm PID-FD) is required");
  if (values.pid !== undefined && !/^[1-9][0-9]{0,9}$/.test(values.pid)) throw new UsageError(`kvm-mapping: --pid must be a process id, got ${JSON.stringify(values.pid)}`);
  if (values.vm !== undefined && !/^[1-9][0-9]{0,9}-[0-9]{1,10}$/.test(values.vm)) throw new UsageError(`kvm-mapping: --vm must be a VM directory name <pid>-<fd> such as 4242-11, got ${JSON.stringify(values.vm)}`);
  if (values.pid !== undefined && values.vm !== undefined && !values.vm.startsWith(`${values.pid}-`)) {
    throw new UsageError(`kvm-mapping: --vm ${values.vm} is not a VM of --pid ${values.pid}`);
  }
  if (values.out === "") throw new UsageError("kvm-mapping: --out needs a file name");
  if (values.watch && values.out === undefined) throw new UsageError("kvm-mapping: --watch needs --out FILE (epochs are appended to it)");
  if (values.watch && planUserFileWrite(values.out as string, "mapping file").kind !== "file") {
    throw new UsageError(`kvm-mapping: --watch rewrites --out on every change, so it must name a regular file, not ${JSON.stringify(values.out)}`);
  }
  if (values.interval !== undefined && !values.watch) throw new UsageError("kvm-mapping: --interval is only for --watch");
  const interval = values.interval === undefined ? 1000 : Number(values.interval);
  if (!/^[0-9]+$/.test(values.interval ?? "1000") || !Number.isInteger(interval) || interval < 10 || interval > 3_600_000) {
    throw new UsageError(`kvm-mapping: --interval must be 10..3600000 ms, got ${JSON.stringify(values.interval)}`);
  }
  const debugfs = values.debugfs ?? "/sys/kernel/debug";
  const pid = values.pid === undefined ? Number((values.vm as string).split("-")[0]) : Number(values.pid);
  const vm = findKvmVm(debugfs, pid, values.vm);
  const origin: Record<string, string | number | string[]> = { pid, vm, debugfs };
  const unscaledNote = (ids: readonly number[]) => {
    if (ids.length > 0) origin.note = [`no tsc-scaling-ratio files for vCPU ${ids.join(", ")}: this host has no TSC scaling (ratio = identity)`];
  };

  if (!values.watch) {
    const first = readKvmVmTsc(debugfs, vm);
    unscaledNote(first.unscaledByAbsence);
    const now = new Date().toISOString();
    const file = build([{ observedAt: now, lastObservedAt: now, vcpus: first.vcpus }], origin);
    await writeMappingFile(values.out ?? "-", file, { stdout: io.stdout });
    return 0;
  }

  const reader = nativeReader();
  const tsc = reader.ok ? reader.counterReader() : null;
  if (!reader.ok || !tsc || reader.native.counter !== "tsc") {
    throw new ClocksourceError(
      "BACKEND_UNUSABLE",
      `kvm-mapping: --watch reads the host TSC to place epoch switches in the guest's TSC domain, but the native reader is unavailable: ${reader.ok ? "it does not read the TSC here" : reader.reason}`,
    );
  }
  const hostFirstSeen = tsc();
  const first = readKvmVmTsc(debugfs, vm);
  unscaledNote(first.unscaledByAbsence);
  return watch(io, { out: values.out as string, debugfs, vm, interval, origin, first: first.vcpus, hostFirstSeen, tsc });
}

interface WatchOptions {
  readonly out: string;
  readonly debugfs: string;
  readonly vm: string;
  readonly interval: number;
  readonly origin: Record<string, string | number | string[]>;
  readonly first: ReadonlyMap<number, KvmTscParams>;
  /** Host TSC just before `first` was read. */
  readonly hostFirstSeen: bigint;
  readonly tsc: () => bigint;
}

type Epoch = { -readonly [K in keyof WatchedKvmEpoch]: WatchedKvmEpoch[K] };

const rangesKey = (e: Epoch) => epochGuestRanges(e).map((r) => `${r.from}-${r.until}`).join(",");

async function watch(io: CliIo, o: WatchOptions): Promise<number> {
  const startAt = new Date().toISOString();
  const epochs: Epoch[] = [
    { vcpus: o.first, hostFrom: null, hostFirstSeen: o.hostFirstSeen, hostUntil: null, hostLastSeen: o.hostFirstSeen, observedAt: startAt, lastObservedAt: startAt, switchedBetween: null },
  ];
  const save = () => writeMappingFile(o.out, build(kvmEpochInputs(epochs), o.origin), { stdout: io.stdout });
  await save();

  let stop: (() => void) | undefined;
  let stopped = false;
  const onSignal = () => {
    stopped = true;
    stop?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.interval);
        stop = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (stopped) break;
      const hostBefore = o.tsc();
      const at = new Date().toISOString();
      let reading: ReadonlyMap<number, KvmTscParams>;
      try {
        reading = readKvmVmTsc(o.debugfs, o.vm).vcpus;
      } catch (e) {
        await save();
        const code = e instanceof ClocksourceError ? e.code : "IO_ERROR";
        throw new ClocksourceError(code, `kvm-mapping: VM ${o.vm} can no longer be read (${(e as Error).message}); ${o.out} holds the ${kvmEpochInputs(epochs).length} epoch(s) seen`);
      }
      const hostAfter = o.tsc();
      const current = epochs[epochs.length - 1] as Epoch;
      if (!sameVmTsc(current.vcpus, reading)) {
        // The old parameters may have held until this poll ended; the new ones since the last sighting of the old.
        current.hostUntil = hostAfter;
        epochs.push({
          vcpus: reading,
          hostFrom: current.hostLastSeen,
          hostFirstSeen: hostBefore,
          hostUntil: null,
          hostLastSeen: hostBefore,
          observedAt: at,
          lastObservedAt: at,
          switchedBetween: { notBefore: current.lastObservedAt, notAfter: at, previous: current.vcpus, hostWindowEnd: hostAfter },
        });
        await save();
        const index = kvmEpochInputs(epochs).length - epochGuestRanges(epochs[epochs.length - 1] as Epoch).length;
        io.stderr.write(`kvm-mapping: parameters changed at ${at}: epoch ${index} appended to ${o.out}\n`);
      } else {
        const before = rangesKey(current);
        current.hostLastSeen = hostBefore;
        current.lastObservedAt = at;
        if (rangesKey(current) !== before) {
          await save();
          io.stderr.write(`kvm-mapping: the guest TSC wrapped past 2^64 at ${at}: its epoch is written as two ranges in ${o.out}\n`);
        }
      }
    }
    await save();
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
