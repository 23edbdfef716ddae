import { readFileSync } from "node:fs";
import { buildMappingFile, DOMAIN, serializeMappingFile, writeMappingFileAtomic, type EpochInput, type MappingFile } from "@clocksource/core";
import { epochSwitchBounds, findKvmVm, kvmTscCodec, nativeReader, readKvmVmTsc, sameVmTsc, type KvmTscParams } from "@clocksource/x86";
import { UsageError, type CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";

export const summary = "on a KVM host: write a VM's exact guest→host TSC mapping from KVM debugfs";

export const help = `Usage: clocksource kvm-mapping --pid PID [--debugfs DIR] [--out FILE] [--watch [--interval MS]]

Reads the TSC offset and scaling of every vCPU of the VM run by process PID
(QEMU, Firecracker, …) from KVM's debugfs, DIR/kvm/<pid>-<fd>/vcpu<N>/
{tsc-offset, tsc-scaling-ratio, tsc-scaling-ratio-frac-bits}, and writes a
mapping file (kind kvm-x86-tsc, guest.tsc → host.tsc; docs/mapping-files.md)
to stdout, or atomically to FILE. Needs root to read debugfs.

Options:
  --pid PID        the VMM process id
  --debugfs DIR    where debugfs is mounted (default /sys/kernel/debug)
  --out FILE       write here (atomically: complete or not at all)
  --watch          keep polling; append an epoch whenever any vCPU's parameters
                   change (pause/resume, migration), bounded in the guest's TSC
                   by the host TSC around the polls; needs --out and the native
                   reader. Stops cleanly on SIGINT/SIGTERM, leaving a complete file.
  --interval MS    polling interval for --watch (default 1000, 10..3600000)
  -h, --help       show this help
`;

function producer(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return `clocksource kvm-mapping ${pkg.version ?? "?"}`;
  } catch {
    return "clocksource kvm-mapping";
  }
}

function build(epochs: readonly EpochInput<KvmTscParams>[], origin: Record<string, string | number | string[]>): MappingFile {
  return buildMappingFile(kvmTscCodec, { from: DOMAIN.guestTsc, to: DOMAIN.hostTsc, producer: producer(), origin, epochs });
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("kvm-mapping", args, {
    options: {
      pid: { type: "string" },
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
  if (values.pid === undefined) throw new UsageError("kvm-mapping: --pid PID is required");
  if (!/^[1-9][0-9]{0,9}$/.test(values.pid)) throw new UsageError(`kvm-mapping: --pid must be a process id, got ${JSON.stringify(values.pid)}`);
  const pid = Number(values.pid);
  if (values.watch && values.out === undefined) throw new UsageError("kvm-mapping: --watch needs --out FILE (epochs are appended to it)");
  if (values.interval !== undefined && !values.watch) throw new UsageError("kvm-mapping: --interval is only for --watch");
  const interval = values.interval === undefined ? 1000 : Number(values.interval);
  if (!Number.isInteger(interval) || interval < 10 || interval > 3_600_000) throw new UsageError(`kvm-mapping: --interval must be 10..3600000 ms, got ${JSON.stringify(values.interval)}`);
  const debugfs = values.debugfs ?? "/sys/kernel/debug";
  const vm = findKvmVm(debugfs, pid);
  const first = readKvmVmTsc(debugfs, vm);
  const origin: Record<string, string | number | string[]> = { pid, vm, debugfs };
  if (first.unscaledByAbsence.length > 0) origin.note = [`no tsc-scaling-ratio files for vCPU ${first.unscaledByAbsence.join(", ")}: this host has no TSC scaling (ratio = identity)`];
  const now = new Date().toISOString();

  if (!values.watch) {
    const file = build([{ observedAt: now, lastObservedAt: now, vcpus: first.vcpus }], origin);
    if (values.out === undefined) io.stdout.write(serializeMappingFile(file));
    else writeMappingFileAtomic(values.out, file);
    return 0;
  }

  const reader = nativeReader();
  const tsc = reader.ok ? reader.counterReader() : null;
  if (!reader.ok || !tsc || reader.native.counter !== "tsc") {
    throw new UsageError(`kvm-mapping: --watch reads the host TSC to place epoch switches in the guest's TSC domain, but the native reader is unavailable: ${reader.ok ? "it does not read the TSC here" : reader.reason}`);
  }
  return watch(io, { out: values.out as string, debugfs, vm, interval, origin, first: first.vcpus, tsc });
}

interface WatchOptions {
  readonly out: string;
  readonly debugfs: string;
  readonly vm: string;
  readonly interval: number;
  readonly origin: Record<string, string | number | string[]>;
  readonly first: ReadonlyMap<number, KvmTscParams>;
  readonly tsc: () => bigint;
}

interface Sighting {
  readonly at: string;
  /** Host TSC just before the parameters were read. */
  readonly hostBefore: bigint;
}

async function watch(io: CliIo, o: WatchOptions): Promise<number> {
  type Epoch = { -readonly [K in keyof EpochInput<KvmTscParams>]: EpochInput<KvmTscParams>[K] };
  const startAt = new Date().toISOString();
  let last: Sighting = { at: startAt, hostBefore: o.tsc() };
  let current = o.first;
  const epochs: Epoch[] = [{ observedAt: startAt, lastObservedAt: startAt, vcpus: current }];
  const save = () => {
    (epochs[epochs.length - 1] as Epoch).lastObservedAt = last.at;
    writeMappingFileAtomic(o.out, build(epochs, o.origin));
  };
  save();

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
        save();
        throw new UsageError(`kvm-mapping: VM ${o.vm} can no longer be read (${(e as Error).message}); ${o.out} holds the ${epochs.length} epoch(s) seen`);
      }
      const hostAfter = o.tsc();
      if (!sameVmTsc(current, reading)) {
        const b = epochSwitchBounds(current, reading, last.hostBefore, hostAfter);
        const prev = epochs[epochs.length - 1] as Epoch;
        prev.lastObservedAt = last.at;
        prev.validUntil = b.oldValidUntil;
        epochs.push({
          observedAt: at,
          lastObservedAt: at,
          validFrom: b.newValidFrom,
          boundary: { notBefore: last.at, notAfter: at, sourceFrom: b.sourceFrom, sourceUntil: b.sourceUntil },
          vcpus: reading,
        });
        current = reading;
        last = { at, hostBefore };
        writeMappingFileAtomic(o.out, build(epochs, o.origin));
        io.stderr.write(`kvm-mapping: parameters changed at ${at}: epoch ${epochs.length - 1} appended to ${o.out}\n`);
      } else {
        last = { at, hostBefore };
      }
    }
    save();
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
