import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DirectorySystemView, type SystemView } from "@clocksource/core";
import { UsageError, type CliIo } from "../cli-io.js";
import { parseOptions } from "../parse-options.js";
import { LIVE_ONLY_FACTS, LIVE_ONLY_INPUTS, SNAPSHOT_FILE_MAX_BYTES, SNAPSHOT_FILES, SNAPSHOT_TREE_MAX_FILES } from "../snapshot-plan.js";
import { cpuidDumpProviders } from "../snapshot-cpuid.js";

export const summary = "copy this machine's probe inputs into DIR (for --sysroot and bug reports)";

export const help = `Usage: clocksource snapshot DIR [--from ROOT] [--force]

Copies this machine's probe inputs — cpuinfo, clocksource, device-tree, hypervisor
and DMI files, the kernel log when readable, a CPUID dump as text at
dev/cpu/0/cpuid when the device is readable — into DIR, laid out like a system
root, so that \`clocksource probe --sysroot DIR\` gives the same answers elsewhere.
Nothing else is copied (no serial numbers, no other /proc content). DIR must not
exist (or be empty); it is written to a temporary directory first, then renamed.
SNAPSHOT.json in DIR lists what was copied and what was skipped, and why.

Options:
  --from ROOT   read from ROOT instead of / (e.g. to re-snapshot a mounted image)
  --force       replace DIR if it exists
  -h, --help    show this help
`;

interface Skipped {
  readonly path: string;
  readonly reason: string;
}

function expand(view: SystemView, pattern: string): string[] {
  const parts = pattern.split("/");
  let paths = [""];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of paths) {
      if (part.includes("*")) {
        const listing = view.list(base);
        if (!listing.ok) continue;
        const re = new RegExp(`^${part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
        for (const name of listing.value) if (re.test(name)) next.push(base ? `${base}/${name}` : name);
      } else {
        next.push(base ? `${base}/${part}` : part);
      }
    }
    paths = next;
  }
  return paths;
}

function walkTree(view: SystemView, dir: string, out: string[], skipped: Skipped[]): void {
  const listing = view.list(dir);
  if (!listing.ok) {
    if (!listing.missing) skipped.push({ path: view.describe(dir), reason: listing.reason });
    return;
  }
  for (const name of listing.value) {
    if (out.length >= SNAPSHOT_TREE_MAX_FILES) {
      skipped.push({ path: view.describe(dir), reason: `more than ${SNAPSHOT_TREE_MAX_FILES} files; the rest is not copied` });
      return;
    }
    const path = `${dir}/${name}`;
    const kind = view.kind(path);
    if (kind.ok && kind.value === "directory") walkTree(view, path, out, skipped);
    else out.push(path);
  }
}

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
  if (existsSync(target) && !values.force && readdirSync(target).length > 0) {
    throw new UsageError(`snapshot: ${target} exists and is not empty (use --force to replace it)`);
  }
  const parent = dirname(target);
  if (!existsSync(parent)) throw new UsageError(`snapshot: ${parent} does not exist`);
  const view = DirectorySystemView.open(values.from ?? "/", values.from === undefined);

  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const copied: string[] = [];
  const skipped: Skipped[] = [];
  const write = (rel: string, data: Uint8Array | string) => {
    const dest = join(staging, rel);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, data);
    copied.push(rel);
  };
  try {
    for (const pattern of SNAPSHOT_FILES) {
      const paths = pattern.endsWith("/**") ? (() => {
        const files: string[] = [];
        walkTree(view, pattern.slice(0, -3), files, skipped);
        return files;
      })() : expand(view, pattern);
      for (const rel of paths) {
        const r = view.readBytes(rel, { maxBytes: SNAPSHOT_FILE_MAX_BYTES });
        if (r.ok) {
          write(rel, r.value);
          if (r.truncated) skipped.push({ path: r.source, reason: `cut at ${SNAPSHOT_FILE_MAX_BYTES} bytes` });
        } else if (!r.missing) {
          skipped.push({ path: r.source, reason: r.reason });
        }
      }
    }
    const log = view.kernelLog();
    if (log.ok) write("var/log/dmesg", log.value);
    else skipped.push({ path: log.source, reason: log.reason });
    // The KVM device's presence is a probe input; its contents are not.
    const kvm = view.kind("dev/kvm");
    if (kvm.ok) write("dev/kvm", "");
    for (const provider of cpuidDumpProviders()) {
      const dump = provider(view);
      if (dump.ok) {
        write("dev/cpu/0/cpuid", dump.text);
        break;
      }
      skipped.push({ path: view.describe("dev/cpu/0/cpuid"), reason: dump.reason });
    }
    const manifest = {
      schema: "clocksource.snapshot/v1",
      createdAt: new Date().toISOString(),
      from: view.root,
      copied: copied.sort(),
      skipped,
      liveOnly: LIVE_ONLY_INPUTS,
    };
    writeFileSync(join(staging, "SNAPSHOT.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(target)) {
      if (lstatSync(target).isDirectory()) rmSync(target, { recursive: true, force: true });
      else throw new UsageError(`snapshot: ${target} exists and is not a directory`);
    }
    renameSync(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  io.stdout.write(`snapshot written to ${target}: ${copied.length} files\n`);
  for (const s of skipped) io.stdout.write(`  skipped ${s.path}: ${s.reason}\n`);
  io.stdout.write(`live-only facts a snapshot cannot carry:\n${LIVE_ONLY_FACTS.map((f) => `  - ${f}\n`).join("")}`);
  return 0;
}
