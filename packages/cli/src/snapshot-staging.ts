import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { constants } from "node:os";
import { basename, dirname, join } from "node:path";
import { ClocksourceError, describeErrno } from "@clocksource/core";
import { UsageError } from "./cli-io.js";

/** Written first into a staging directory, so that only ours are ever removed as stale. */
export const STAGING_MARKER = ".clocksource-snapshot-staging";

/** The staging directory of `target` for process `pid`: `DIR.tmp-PID`, beside DIR. */
export function stagingPath(target: string, pid: number = process.pid): string {
  return `${target}.tmp-${pid}`;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ClocksourceError("IO_ERROR", `snapshot: cannot look at ${path}: ${describeErrno(e)}`);
  }
}

/**
 * Checks that `target` can become the snapshot: absent, or an empty directory
 * (any directory with `force`). Problems with DIR as given — a file, a
 * symbolic link (dangling or not), a non-empty directory — are usage errors
 * (exit 2); a parent that is missing or cannot be looked at is a failure at run time.
 */
export function checkTarget(target: string, force: boolean): void {
  const st = lstatOrNull(target);
  if (st?.isSymbolicLink()) {
    let dangling = false;
    try {
      statSync(target);
    } catch {
      dangling = true;
    }
    let to = "?";
    try {
      to = readlinkSync(target);
    } catch {
      // the link's text is only for the message
    }
    throw new UsageError(
      dangling
        ? `snapshot: ${target} is a dangling symbolic link (to ${to}); give a directory path that does not exist yet`
        : `snapshot: ${target} is a symbolic link (to ${to}); give the directory itself`,
    );
  }
  if (st && !st.isDirectory()) throw new UsageError(`snapshot: ${target} exists and is not a directory`);
  if (st && !force) {
    let entries: string[];
    try {
      entries = readdirSync(target);
    } catch (e) {
      throw new ClocksourceError("IO_ERROR", `snapshot: cannot read ${target}: ${describeErrno(e)}`);
    }
    if (entries.length > 0) throw new UsageError(`snapshot: ${target} exists and is not empty (use --force to replace it)`);
  }
  const parent = dirname(target);
  const pst = lstatOrNull(parent);
  if (!pst) throw new ClocksourceError("IO_ERROR", `snapshot: ${parent} does not exist`);
  if (!pst.isDirectory() && !statSync(parent).isDirectory()) throw new ClocksourceError("IO_ERROR", `snapshot: ${parent} is not a directory`);
}

/** One phrase for why a directory cannot be made in `parent`. */
function cannotCreate(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
    case "EDQUOT":
      return "no space left";
    case "ENOENT":
      // The parent exists (checked): a virtual filesystem such as /proc refuses new entries this way.
      return "the file system does not allow new directories there (/proc or /sys?)";
    default:
      return describeErrno(e);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes `DIR.tmp-PID` directories that killed runs left beside `target`:
 * only directories holding our marker, whose process is gone. Returns what was removed.
 */
export function removeStaleStaging(target: string): string[] {
  const parent = dirname(target);
  const prefix = `${basename(target)}.tmp-`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pidText = name.slice(prefix.length);
    if (!/^[1-9]\d{0,9}$/.test(pidText)) continue;
    const pid = Number(pidText);
    if (pid === process.pid || alive(pid)) continue;
    const path = join(parent, name);
    const st = lstatOrNull(path);
    if (!st?.isDirectory() || !lstatOrNull(join(path, STAGING_MARKER))?.isFile()) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/**
 * Makes the staging directory (never through a link, never with parents, so
 * a path in `/proc` fails at once instead of looping), marked as ours.
 */
export function createStaging(staging: string): void {
  const existing = lstatOrNull(staging);
  if (existing) {
    // A dead run with our pid left it: remove it only when it is ours.
    if (!existing.isDirectory() || !lstatOrNull(join(staging, STAGING_MARKER))?.isFile()) {
      throw new ClocksourceError("IO_ERROR", `snapshot: ${staging} exists and is not a snapshot's staging directory; move it away`);
    }
    rmSync(staging, { recursive: true, force: true });
  }
  try {
    mkdirSync(staging);
    writeFileSync(join(staging, STAGING_MARKER), `${process.pid}\n`, { flag: "wx" });
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw new ClocksourceError("IO_ERROR", `snapshot: cannot create ${staging}: ${cannotCreate(e)}`);
  }
}

/** Moves the finished staging directory into place (replacing an old snapshot with `force`). */
export function publishStaging(staging: string, target: string): void {
  try {
    const st = lstatOrNull(target);
    if (st?.isDirectory()) rmSync(target, { recursive: true, force: true });
    else if (st) throw new UsageError(`snapshot: ${target} exists and is not a directory`);
    renameSync(staging, target);
    unlinkSync(join(target, STAGING_MARKER));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new ClocksourceError("IO_ERROR", `snapshot: cannot move the snapshot into ${target}: ${describeErrno(e)}`);
  }
}

/**
 * Removes `staging` when the process is interrupted (SIGINT, SIGTERM, SIGHUP)
 * and then dies of that signal, as it would have without the handler. The
 * handler runs between the copy's steps (the copy yields to the event loop).
 * Returns the function that uninstalls it.
 */
export function cleanUpOnSignal(staging: string, onInterrupt: (signal: NodeJS.Signals) => void): () => void {
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const handler = (signal: NodeJS.Signals) => {
    rmSync(staging, { recursive: true, force: true });
    onInterrupt(signal);
    uninstall();
    process.kill(process.pid, signal);
    // Reached only when the signal's default action does not end the process (it is ignored).
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  const uninstall = () => {
    for (const s of signals) process.off(s, handler);
  };
  for (const s of signals) process.on(s, handler);
  return uninstall;
}
