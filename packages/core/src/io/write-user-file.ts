/**
 * Writing a file the user named on the command line (`--out`, `--plot`, …)
 * without ever destroying what is already at that path.
 *
 * The rule, in the order it is applied (docs/mapping-files.md, "Files the tool writes and reads", says the same for users):
 * - `-`, `/dev/stdout`, `/dev/fd/1` and `/proc/self/fd/1` mean standard output;
 *   `/dev/stderr`, `/dev/fd/2` and `/proc/self/fd/2` standard error. They are
 *   written to the process's streams, never opened or replaced as paths.
 * - A symbolic link is followed: the link stays, the file it leads to is
 *   written by the rules below. A dangling link is refused, and so is a link in
 *   a sticky world-writable directory (such as `/tmp`) owned by someone other
 *   than the caller and the directory's owner — the kernel's
 *   `protected_symlinks` rule, so another user cannot point our `--out` at a
 *   file of their choice.
 * - A regular file, or nothing: written atomically — a temporary file in the
 *   same directory is written, flushed (`fsync`) and renamed over the target,
 *   so readers see the old or the new content, never half. An existing file
 *   keeps its permission bits (and, when running as root, its owner). On any
 *   failure the temporary file is removed and the target is left as it was.
 * - The null device (`/dev/null`) and terminals (`/dev/tty`, `/dev/pts/N`,
 *   `/dev/ttyN`) are opened and written in place, as a shell's `>` would.
 * - Anything else — a directory, FIFO, socket, block device or another
 *   character device — is refused with one line; it is never opened, written
 *   or renamed over.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  type Stats,
} from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { ClocksourceError } from "../errors.js";
import { describeErrno } from "./errno.js";
import { describeFileKind } from "./file-kind.js";
import { writeAllSync } from "./write-all.js";

/** How to write a user-named file. */
export interface WriteUserFileOptions {
  /** What the file is, for messages (`output file`, `mapping file`, `plot`); default `output file`. */
  readonly what?: string;
  /** Where `-` and `/dev/stdout` go; default `process.stdout`. */
  readonly stdout?: NodeJS.WritableStream;
  /** Where `/dev/stderr` goes; default `process.stderr`. */
  readonly stderr?: NodeJS.WritableStream;
  /** Permission bits of a NEW file (the umask applies); an existing file keeps its own. Default 0o644. */
  readonly mode?: number;
}

/** Where a write goes, decided before anything is opened. */
export type WriteTarget =
  | { readonly kind: "stream"; readonly stream: "stdout" | "stderr" }
  | { readonly kind: "device"; readonly path: string; readonly rdev: number }
  | { readonly kind: "file"; readonly path: string; readonly existing: Stats | null };

const STDOUT_NAMES = new Set(["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]);
const STDERR_NAMES = new Set(["/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"]);

function ioError(message: string, cause?: unknown): ClocksourceError {
  return new ClocksourceError("IO_ERROR", message, cause === undefined ? undefined : { cause });
}

function writeReason(e: unknown): string {
  switch ((e as NodeJS.ErrnoException | undefined)?.code) {
    case "ENOENT":
    case "ENOTDIR":
      return "its directory does not exist";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on device";
    case "EDQUOT":
      return "disk quota exceeded";
    default:
      return describeErrno(e);
  }
}

function cannotWrite(what: string, path: string, e: unknown): ClocksourceError {
  if (e instanceof ClocksourceError) return e;
  return ioError(`cannot write ${what} ${path}: ${writeReason(e)}`, e);
}

/** Linux `major()`/`minor()` of a `dev_t` as Node reports it (a number). */
function devMajor(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}

let nullRdev: number | null | undefined;
function nullDeviceRdev(): number | null {
  if (nullRdev === undefined) {
    try {
      const st = statSync("/dev/null");
      nullRdev = st.isCharacterDevice() ? st.rdev : null;
    } catch {
      nullRdev = null;
    }
  }
  return nullRdev;
}

/**
 * True for the character devices written in place: the null device and
 * terminals on Linux (virtual consoles `tty0`–`tty63`, the controlling
 * terminal `/dev/tty`, pseudo-terminals `/dev/pts/N`). Serial ports are left
 * out (opening one can wait for a carrier), as is `/dev/ptmx` (opening it
 * creates a terminal).
 */
export function isWritableInPlaceDevice(st: Stats): boolean {
  if (!st.isCharacterDevice()) return false;
  if (st.rdev === nullDeviceRdev()) return true;
  if (process.platform !== "linux") return false;
  const major = devMajor(st.rdev);
  const minor = devMinor(st.rdev);
  return (major === 4 && minor < 64) || (major === 5 && minor === 0) || (major >= 136 && major <= 143);
}

function refuse(what: string, path: string, st: Stats, via?: string): ClocksourceError {
  const at = via === undefined ? path : `${via} (a link to ${path})`;
  if (st.isCharacterDevice()) {
    return ioError(`refusing to write ${what} ${at}: it is a character device (only /dev/null and terminals are written to in place)`);
  }
  return ioError(`refusing to write ${what} ${at}: it is ${describeFileKind(st)}, not a regular file`);
}

function euid(): number | undefined {
  return typeof process.geteuid === "function" ? process.geteuid() : undefined;
}

/** The kernel's `protected_symlinks` rule, applied to a link we are about to follow. */
function checkLinkOwner(what: string, path: string, link: Stats): void {
  const me = euid();
  if (me === undefined || link.uid === me) return;
  let dir: Stats;
  try {
    dir = statSync(dirname(path));
  } catch {
    return;
  }
  const stickyWorldWritable = (dir.mode & 0o1000) !== 0 && (dir.mode & 0o002) !== 0;
  if (stickyWorldWritable && link.uid !== dir.uid) {
    throw ioError(`refusing to write ${what} ${path}: it is a symbolic link owned by another user (uid ${link.uid}) in a shared sticky directory`);
  }
}

/**
 * Decides where a write to `path` goes, without opening or changing anything.
 * @throws ClocksourceError `IO_ERROR` when the path must not be written (see the module rules)
 */
export function planUserFileWrite(path: string, what = "output file"): WriteTarget {
  if (path === "") throw new ClocksourceError("INVALID_ARGUMENT", `${what}: empty path`);
  if (STDOUT_NAMES.has(path)) return { kind: "stream", stream: "stdout" };
  if (STDERR_NAMES.has(path)) return { kind: "stream", stream: "stderr" };
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "file", path, existing: null };
    throw cannotWrite(what, path, e);
  }
  let target = path;
  let via: string | undefined;
  if (st.isSymbolicLink()) {
    checkLinkOwner(what, path, st);
    try {
      target = realpathSync(path);
      st = statSync(target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ELOOP") throw ioError(`refusing to write ${what} ${path}: it is a symbolic link that leads nowhere (${code === "ELOOP" ? "a loop" : "dangling"})`, e);
      throw cannotWrite(what, path, e);
    }
    via = path;
  }
  if (st.isFile()) return { kind: "file", path: target, existing: st };
  if (isWritableInPlaceDevice(st)) return { kind: "device", path: target, rdev: st.rdev };
  throw refuse(what, target, st, via);
}

// node:crypto is loaded when a file is first written, not by every program that imports this module (convert writes none).
let randomBytes: typeof import("node:crypto").randomBytes | undefined;

function tempPathFor(path: string): string {
  randomBytes ??= (createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto")).randomBytes;
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

function toBuffer(data: string | Uint8Array): Buffer {
  return typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Re-checks just before the rename: something that is no longer a regular file must not be replaced. */
function checkStillReplaceable(what: string, path: string): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isFile()) throw ioError(`refusing to write ${what} ${path}: it became ${describeFileKind(st)} while being written`);
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // Durability of the rename is best effort: some filesystems refuse fsync on a directory.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const DEVICE_FLAGS = constants.O_WRONLY | constants.O_NOCTTY | constants.O_NOFOLLOW;

function writeDeviceSync(what: string, target: { path: string; rdev: number }, buf: Buffer): void {
  let fd: number | undefined;
  try {
    fd = openSync(target.path, DEVICE_FLAGS);
    const st = fstatSync(fd);
    if (!st.isCharacterDevice() || st.rdev !== target.rdev) throw ioError(`refusing to write ${what} ${target.path}: it changed while being opened`);
    writeAllSync(fd, buf);
  } catch (e) {
    throw cannotWrite(what, target.path, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeFileSyncAtomic(what: string, target: { path: string; existing: Stats | null }, buf: Buffer, mode: number): void {
  const tmp = tempPathFor(target.path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, TEMP_FLAGS, mode);
    created = true;
    writeAllSync(fd, buf);
    if (target.existing) {
      fchmodSync(fd, target.existing.mode & 0o777);
      if (euid() === 0 && (target.existing.uid !== 0 || target.existing.gid !== 0)) fchownSync(fd, target.existing.uid, target.existing.gid);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    checkStillReplaceable(what, target.path);
    renameSync(tmp, target.path);
    created = false;
    syncDirectory(dirname(target.path));
  } catch (e) {
    throw cannotWrite(what, target.path, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (created) rmSync(tmp, { force: true });
  }
}

/**
 * Synchronous {@link writeUserFile}. Standard output and error are written
 * with the stream's `write` without waiting for it to drain (Node flushes it
 * before exit); use the async form to learn of a failed stream write.
 * @throws ClocksourceError `IO_ERROR`
 */
export function writeUserFileSync(path: string, data: string | Uint8Array, options: WriteUserFileOptions = {}): void {
  const what = options.what ?? "output file";
  const target = planUserFileWrite(path, what);
  const buf = toBuffer(data);
  if (target.kind === "stream") {
    (target.stream === "stdout" ? (options.stdout ?? process.stdout) : (options.stderr ?? process.stderr)).write(buf);
    return;
  }
  if (target.kind === "device") return writeDeviceSync(what, target, buf);
  writeFileSyncAtomic(what, target, buf, options.mode ?? 0o644);
}

function writeStream(stream: NodeJS.WritableStream, buf: Buffer, what: string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      stream.write(buf, (err) => (err ? reject(ioError(`cannot write ${what} to ${name}: ${describeErrno(err)}`, err)) : resolve()));
    } catch (e) {
      reject(ioError(`cannot write ${what} to ${name}: ${describeErrno(e)}`, e));
    }
  });
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
}

/**
 * Writes `data` to the file the user named, by the rules in this module's
 * docs: `-` and `/dev/stdout` are standard output; a regular file (or a new
 * one) is replaced atomically; `/dev/null` and terminals are written in place;
 * a symlink is followed to its target; anything else is refused, never
 * replaced. The file's data reaches the disk (`fsync`) before the promise resolves.
 * @throws ClocksourceError `IO_ERROR` with one line naming `what` and `path`
 */
export async function writeUserFile(path: string, data: string | Uint8Array, options: WriteUserFileOptions = {}): Promise<void> {
  const what = options.what ?? "output file";
  const target = planUserFileWrite(path, what);
  const buf = toBuffer(data);
  if (target.kind === "stream") {
    const stream = target.stream === "stdout" ? (options.stdout ?? process.stdout) : (options.stderr ?? process.stderr);
    return writeStream(stream, buf, what, `standard ${target.stream === "stdout" ? "output" : "error"}`);
  }
  // node:fs/promises on first use: loading it costs every command that bundles this module ~2 ms at start-up.
  const { open: openAsync, rename: renameAsync, rm: rmAsync } = process.getBuiltinModule("node:fs/promises");
  if (target.kind === "device") {
    let fh: FileHandle | undefined;
    try {
      fh = await openAsync(target.path, DEVICE_FLAGS);
      const st = await fh.stat();
      if (!st.isCharacterDevice() || st.rdev !== target.rdev) throw ioError(`refusing to write ${what} ${target.path}: it changed while being opened`);
      await writeAll(fh, buf);
    } catch (e) {
      throw cannotWrite(what, target.path, e);
    } finally {
      await fh?.close();
    }
    return;
  }
  const tmp = tempPathFor(target.path);
  let fh: FileHandle | undefined;
  let created = false;
  try {
    fh = await openAsync(tmp, TEMP_FLAGS, options.mode ?? 0o644);
    created = true;
    await writeAll(fh, buf);
    if (target.existing) {
      await fh.chmod(target.existing.mode & 0o777);
      if (euid() === 0 && (target.existing.uid !== 0 || target.existing.gid !== 0)) await fh.chown(target.existing.uid, target.existing.gid);
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    checkStillReplaceable(what, target.path);
    await renameAsync(tmp, target.path);
    created = false;
    syncDirectory(dirname(target.path));
  } catch (e) {
    throw cannotWrite(what, target.path, e);
  } finally {
    await fh?.close();
    if (created) await rmAsync(tmp, { force: true });
  }
}
