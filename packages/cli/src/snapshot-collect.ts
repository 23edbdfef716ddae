import type { DirectorySystemView } from "@clocksource/core";
import { cpuidDumpProviders } from "./snapshot-cpuid.js";
import {
  linkTargetAllowed,
  SNAPSHOT_CPUID_MAX_BYTES,
  SNAPSHOT_FILE_MAX_BYTES,
  SNAPSHOT_FILES,
  SNAPSHOT_LOG_MAX_BYTES,
  SNAPSHOT_TOTAL_MAX_BYTES,
  SNAPSHOT_TREE_FILE_MAX_BYTES,
  SNAPSHOT_TREE_MAX_FILES,
} from "./snapshot-plan.js";

/** An input that was not copied, or copied only in part, and why. */
export interface Skipped {
  readonly path: string;
  readonly reason: string;
}

/** Receives each copied input, by its path relative to the root. */
export type SnapshotSink = (rel: string, data: Uint8Array | string) => void;

/** Nodes below a tree's base; the device tree is a few levels deep. */
const TREE_MAX_DEPTH = 64;

function literal(path: string): string {
  return path.split("/").filter((c) => c !== "" && c !== ".").join("/");
}

/**
 * Copies the probe inputs of {@link SNAPSHOT_FILES} from a system view: only
 * regular files, only reached inside the root, through links only into
 * {@link linkTargetAllowed} places, each within its cap, the whole within
 * {@link SNAPSHOT_TOTAL_MAX_BYTES}. `tick` runs between inputs (the command
 * yields there so that a signal can interrupt it).
 */
export class SnapshotCollector {
  readonly copied: string[] = [];
  readonly skipped: Skipped[] = [];
  private bytes = 0;
  private treeEntries = 0;

  constructor(
    private readonly view: DirectorySystemView,
    private readonly sink: SnapshotSink,
    private readonly tick: () => Promise<void>,
  ) {}

  async run(): Promise<void> {
    for (const pattern of SNAPSHOT_FILES) {
      if (pattern.endsWith("/**")) {
        await this.tree(pattern.slice(0, -3));
        continue;
      }
      for (const rel of this.expand(pattern)) {
        await this.tick();
        this.copyFile(rel, SNAPSHOT_FILE_MAX_BYTES, "cut");
      }
    }
    await this.tick();
    this.kernelLog();
    this.kvmDevice();
    this.cpuid();
  }

  private skip(path: string, reason: string): void {
    this.skipped.push({ path, reason });
  }

  private write(rel: string, data: Uint8Array | string): void {
    this.sink(rel, data);
    this.copied.push(rel);
    this.bytes += typeof data === "string" ? Buffer.byteLength(data) : data.length;
  }

  /** Reads one input and copies it when every rule allows; `overflow` says what a file over `max` becomes. */
  private copyFile(rel: string, max: number, overflow: "cut" | "skip"): void {
    const r = this.view.readBytes(rel, { maxBytes: max });
    if (!r.ok) {
      if (!r.missing) this.skip(r.source, r.reason);
      return;
    }
    const resolved = r.resolved ?? literal(rel);
    if (!linkTargetAllowed(rel, resolved)) {
      this.skip(r.source, `a symbolic link to ${resolved || "the root"} (inside the root, but not a probe input): not copied`);
      return;
    }
    if (r.truncated && overflow === "skip") {
      this.skip(r.source, `larger than ${max} bytes: not copied`);
      return;
    }
    if (this.bytes + r.value.length > SNAPSHOT_TOTAL_MAX_BYTES) {
      this.skip(r.source, `the snapshot would pass ${SNAPSHOT_TOTAL_MAX_BYTES} bytes: not copied`);
      return;
    }
    this.write(rel, r.value);
    if (r.truncated) this.skip(r.source, `cut at ${max} bytes`);
  }

  /** `a/*\/b` → the existing `a/x/b` paths (`*` matches within one component). */
  private expand(pattern: string): string[] {
    let paths = [""];
    for (const part of pattern.split("/")) {
      const next: string[] = [];
      for (const base of paths) {
        if (!part.includes("*")) {
          next.push(base ? `${base}/${part}` : part);
          continue;
        }
        const listing = this.view.list(base);
        if (!listing.ok) continue;
        const re = new RegExp(`^${part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
        for (const name of listing.value) if (re.test(name)) next.push(base ? `${base}/${name}` : name);
      }
      paths = next;
    }
    return paths;
  }

  /**
   * Copies a tree's files. A link inside the tree to a file is copied when its
   * target is allowed; a link to a directory is never followed (no loops, no
   * second copy of a subtree).
   */
  private async tree(base: string): Promise<void> {
    const top = this.view.kind(base);
    if (!top.ok) {
      if (!top.missing) this.skip(top.source, top.reason);
      return;
    }
    const resolved = top.resolved ?? literal(base);
    if (!linkTargetAllowed(base, resolved)) {
      this.skip(top.source, `a symbolic link to ${resolved || "the root"} (inside the root, but not a probe input): not copied`);
      return;
    }
    await this.walk(base, resolved, 0);
  }

  private async walk(dir: string, resolvedDir: string, depth: number): Promise<void> {
    const listing = this.view.list(dir);
    if (!listing.ok) {
      if (!listing.missing) this.skip(listing.source, listing.reason);
      return;
    }
    if (listing.truncated) this.skip(listing.source, "too many entries: only the first were looked at");
    for (const name of listing.value) {
      await this.tick();
      if (this.treeEntries >= SNAPSHOT_TREE_MAX_FILES) {
        this.skip(this.view.describe(dir), `more than ${SNAPSHOT_TREE_MAX_FILES} entries in the tree; the rest is not copied`);
        return;
      }
      this.treeEntries++;
      const path = `${dir}/${name}`;
      const kind = this.view.kind(path);
      if (!kind.ok) {
        this.skip(kind.source, kind.reason);
        continue;
      }
      const where = kind.resolved ?? literal(path);
      if (kind.value === "directory") {
        if (where !== `${resolvedDir}/${name}`) this.skip(kind.source, `a symbolic link to the directory ${where || "/"}: not followed`);
        else if (depth + 1 > TREE_MAX_DEPTH) this.skip(kind.source, `deeper than ${TREE_MAX_DEPTH} levels: not copied`);
        else await this.walk(path, where, depth + 1);
        continue;
      }
      this.copyFile(path, SNAPSHOT_TREE_FILE_MAX_BYTES, "skip");
    }
  }

  /** The saved kernel log under the root; on a live machine without one, the `dmesg` command's. */
  private kernelLog(): void {
    const saved = this.view.kind("var/log/dmesg");
    if (saved.ok || !saved.missing || !this.view.live) {
      this.copyFile("var/log/dmesg", SNAPSHOT_LOG_MAX_BYTES, "cut");
      return;
    }
    const log = this.view.kernelLog();
    if (!log.ok) {
      this.skip(log.source, log.reason);
      return;
    }
    this.write("var/log/dmesg", log.value);
    if (log.truncated) this.skip(log.source, `cut at ${SNAPSHOT_LOG_MAX_BYTES} bytes`);
  }

  /** The KVM device's presence is a probe input; its contents are not. */
  private kvmDevice(): void {
    const kvm = this.view.kind("dev/kvm");
    if (!kvm.ok) return;
    // Live: the device. From a snapshot root: the empty marker an earlier snapshot wrote.
    if (this.view.live ? kvm.value === "character-device" : kvm.value === "file") this.write("dev/kvm", "");
    else this.skip(kvm.source, `is a ${kvm.value}, not ${this.view.live ? "the KVM device" : "a snapshot's marker file"}: not recorded`);
  }

  /** Live: CPU 0's CPUID as a text dump. From a snapshot root: its dump file. */
  private cpuid(): void {
    if (!this.view.live) {
      this.copyFile("dev/cpu/0/cpuid", SNAPSHOT_CPUID_MAX_BYTES, "skip");
      return;
    }
    for (const provider of cpuidDumpProviders()) {
      const dump = provider(this.view);
      if (dump.ok) {
        this.write("dev/cpu/0/cpuid", dump.text);
        return;
      }
      this.skip(this.view.describe("dev/cpu/0/cpuid"), dump.reason);
    }
  }
}
