import { randomBytes } from "node:crypto";
import { lstatSync, renameSync, statSync, unlinkSync, type BigIntStats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ClocksourceError } from "@clocksource/core";
import { connectSocket, OpenError } from "./transport.js";

/** A socket file and the inode it was when checked. */
export interface SocketFileIdentity {
  readonly path: string;
  readonly dev: bigint;
  readonly ino: bigint;
  /** Creation stamps: an inode number is reused at once after a file is removed (tmpfs), so it alone does not identify a file. */
  readonly mtimeNs: bigint;
  readonly birthtimeNs: bigint;
  readonly mode: number;
}

function identity(path: string, st: BigIntStats): SocketFileIdentity {
  return { path, dev: st.dev, ino: st.ino, mtimeNs: st.mtimeNs, birthtimeNs: st.birthtimeNs, mode: Number(st.mode & 0o777n) };
}

/** Same inode and same creation stamps (a socket file's data is never written, so its mtime is its bind time). */
function same(a: BigIntStats, b: BigIntStats | SocketFileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.birthtimeNs === b.birthtimeNs;
}

function lstatOrNull(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * Clears the way for a bind that failed with EADDRINUSE: a socket file nobody
 * answers on (its agent died) is moved aside and removed; a live one, or a
 * path that is not a socket, is an error. Safe against a concurrent agent
 * doing the same: the stale file is first *renamed* to a private name (only
 * one rename of it can succeed), and what was renamed is removed only if it
 * is still the file tested (same inode and creation stamps) and still
 * refuses connections; otherwise (another agent bound a fresh socket in
 * between) it is put back. Returns when the caller should try to bind again.
 * @throws ClocksourceError `IO_ERROR`
 */
export async function clearStaleSocket(path: string): Promise<void> {
  const where = `cannot listen on unix:${path}`;
  const st = lstatOrNull(path);
  if (!st) return;
  if (!st.isSocket()) throw new ClocksourceError("IO_ERROR", `${where}: the path exists and is not a socket`);
  if (await answers(path, where)) throw new ClocksourceError("IO_ERROR", `${where}: another process is serving it`);
  // Stale. Move aside exactly the file that was tested.
  const again = lstatOrNull(path);
  if (!again || !same(again, st)) return;
  const aside = join(dirname(path), `.${basename(path)}.stale-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new ClocksourceError("IO_ERROR", `${where}: cannot remove the stale socket: ${(e as Error).message}`);
  }
  const moved = lstatOrNull(aside);
  if (!moved) return;
  let live = true;
  if (same(moved, st)) {
    try {
      live = await answers(aside, where);
    } catch {
      live = true;
    }
  }
  if (!live) {
    unlinkSync(aside);
    return;
  }
  // Another agent's fresh socket: give it back its name.
  try {
    renameSync(aside, path);
  } catch {
    // it went away meanwhile: nothing left to give back
  }
}

/**
 * True when someone accepts connections on the socket at `path`, false when
 * it refuses them (stale) or is gone.
 * @throws ClocksourceError `IO_ERROR` for any other failure (permission, timeout)
 */
async function answers(path: string, where: string): Promise<boolean> {
  try {
    const s = await connectSocket({ path }, 500);
    s.destroy();
    return true;
  } catch (e) {
    if (!(e instanceof OpenError)) throw e;
    if (e.code === "ECONNREFUSED" || e.code === "ENOENT") return false;
    throw new ClocksourceError("IO_ERROR", `${where}: ${e.message}`);
  }
}

/**
 * Checks what is at `path` right after this process bound a socket there
 * under a umask of 0177: a socket owned by this user with no permission for
 * group or others (0600, or narrower under a default ACL). The mode is never
 * *set* afterwards (chmod follows a symlink swapped in after the bind), only
 * checked; anything else means the file was replaced, and the listener must
 * not be used.
 * @throws ClocksourceError `IO_ERROR`
 */
export async function verifyBoundSocket(path: string): Promise<SocketFileIdentity> {
  const where = `cannot listen on unix:${path}`;
  let st: BigIntStats | null = null;
  // A concurrent agent may rename the fresh socket aside for an instant (see clearStaleSocket).
  for (let i = 0; i < 20 && !st; i++) {
    st = lstatOrNull(path);
    if (!st) await new Promise((r) => setTimeout(r, 5));
  }
  if (!st) throw new ClocksourceError("IO_ERROR", `${where}: the socket vanished right after it was bound (is the directory writable by others?)`);
  const uid = BigInt(process.geteuid?.() ?? st.uid);
  if (!st.isSocket() || st.uid !== uid) {
    throw new ClocksourceError("IO_ERROR", `${where}: the socket was replaced right after it was bound (${st.isSymbolicLink() ? "by a symbolic link" : st.isSocket() ? `by a socket of uid ${st.uid}` : "by something that is not a socket"}); is the directory writable by others?`);
  }
  const id = identity(path, st);
  // The kernel applies the umask to a socket's bind even under a default ACL,
  // which can only narrow it; any bit for group or others means a surprise.
  if ((id.mode & 0o077) !== 0) {
    throw new ClocksourceError("IO_ERROR", `${where}: the socket came out with mode ${id.mode.toString(8).padStart(4, "0")}, open to group or others; refusing to serve on it`);
  }
  return id;
}

/**
 * A warning when other users can replace or remove names in the socket's
 * directory (writable by group or others without the sticky bit), else null.
 */
export function socketDirWarning(path: string): string | null {
  try {
    const d = statSync(dirname(path));
    if ((d.mode & 0o022) !== 0 && (d.mode & 0o1000) === 0) {
      return `the directory of unix:${path} is writable by others without the sticky bit: another user can replace or remove the socket (use a private directory)`;
    }
  } catch {
    // the bind succeeded, so the directory exists; nothing to add
  }
  return null;
}

/** Removes the socket file if it is still the one recorded (never one that replaced it). */
export function removeSocketFile(f: SocketFileIdentity): void {
  try {
    const st = lstatSync(f.path, { bigint: true });
    if (st.isSocket() && same(st, f)) unlinkSync(f.path);
  } catch {
    // already gone
  }
}
