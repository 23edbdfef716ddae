import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ClocksourceError, describeErrno, DirectorySystemView } from "@clocksource/core";
import { UsageError, type CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";
import { SnapshotCollector } from "../snapshot-collect.js";
import { LIVE_ONLY_FACTS, LIVE_ONLY_INPUTS } from "../snapshot-plan.js";
import { checkTarget, cleanUpOnSignal, createStaging, publishStaging, removeStaleStaging, stagingPath } from "../snapshot-staging.js";

export const summary = "copy this machine's probe inputs into DIR (for --sysroot and bug reports)";

export const help = `Usage: clocksource snapshot DIR [--from ROOT] [--force]

Copies this machine's probe inputs — cpuinfo, clocksource, device-tree, hypervisor
and DMI files, the kernel log when readable, a CPUID dump as text at
dev/cpu/0/cpuid when the device is readable — into DIR, laid out like a system
root, so that \`clocksource probe --sysroot DIR\` gives the same answers elsewhere.
Nothing else is copied (no serial numbers, no other /proc content). SNAPSHOT.json
in DIR lists what was copied and what was skipped or cut, and why.

What is read: every path is resolved inside ROOT as a chroot would (a link's
absolute target starts again at ROOT, .. stops at ROOT). A link is followed only
into sys/devices/ and sys/firmware/devicetree/base/ (where sysfs class links and
the device tree lead), and its target is copied as a regular file at the link's
path: DIR holds only regular files and directories. FIFOs, sockets and devices
are never opened (on this machine the CPUID device is read into a text dump).
Files are cut at 4 MiB and the kernel log at 16 MiB; device-tree files over
64 KiB, more than 20000 tree entries and more than 64 MiB in all are not copied.

Where it is written: DIR must not exist, or be an empty directory (--force
replaces a non-empty one); it must not be a symbolic link. The copy is built in
DIR.tmp-PID beside DIR, then renamed; an interrupted run (SIGINT, SIGTERM,
SIGHUP) removes it, and a later run removes those of runs that were killed.

Exit status: 0 written; 2 when DIR as given cannot be used (a file, a symbolic
link, not empty without --force) or an option is wrong; 1 when DIR cannot be
written (missing parent, permission, a read-only or virtual file system such
as /proc) or ROOT cannot be read.

Options:
  --from ROOT   read from ROOT instead of / (e.g. to re-snapshot a mounted image)
  --force       replace DIR if it exists
  -h, --help    show this help

Examples:
  clocksource snapshot ./this-machine
                                       then elsewhere: clocksource probe --sysroot ./this-machine
  clocksource snapshot ./image --from /mnt/image
                                       a mounted disk image instead of this machine

Environment:
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

/** Lets pending signals run between inputs, so an interrupted copy is cleaned up. */
const yieldToSignals = () => new Promise<void>((done) => setImmediate(done));

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions("snapshot", args, {
    options: { from: { type: "string" }, force: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("snapshot: expected one directory argument (clocksource snapshot DIR)");
  const target = resolve(positionals[0] as string);
  checkTarget(target, values.force);
  const view = DirectorySystemView.open(values.from ?? "/", values.from === undefined);

  for (const stale of removeStaleStaging(target)) io.stderr.write(`clocksource: snapshot: removed ${stale}, left by a run that was killed\n`);
  const staging = stagingPath(target);
  createStaging(staging);
  const uninstall = cleanUpOnSignal(staging, (signal) => io.stderr.write(`clocksource: snapshot: interrupted by ${signal}; ${target} not written\n`));
  let collector: SnapshotCollector;
  try {
    collector = new SnapshotCollector(
      view,
      (rel, data) => {
        const dest = join(staging, rel);
        try {
          mkdirSync(dirname(dest), { recursive: true });
          writeFileSync(dest, data, { flag: "wx" });
        } catch (e) {
          throw new ClocksourceError("IO_ERROR", `snapshot: cannot write ${dest}: ${describeErrno(e)}`);
        }
      },
      yieldToSignals,
    );
    await collector.run();
    const manifest = {
      schema: "clocksource.snapshot/v1",
      createdAt: new Date().toISOString(),
      from: view.root,
      copied: [...collector.copied].sort(),
      skipped: collector.skipped,
      liveOnly: LIVE_ONLY_INPUTS,
    };
    writeFileSync(join(staging, "SNAPSHOT.json"), `${JSON.stringify(manifest, null, 2)}\n`, { flag: "wx" });
    publishStaging(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  } finally {
    uninstall();
  }
  io.stdout.write(`snapshot written to ${target}: ${collector.copied.length} files\n`);
  for (const s of collector.skipped) io.stdout.write(`  skipped ${s.path}: ${s.reason}\n`);
  io.stdout.write(`live-only facts a snapshot cannot carry:\n${LIVE_ONLY_FACTS.map((f) => `  - ${f}\n`).join("")}`);
  return 0;
}
