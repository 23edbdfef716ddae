/**
 * Reading a file the user named on the command line (a token file, a mapping
 * file, a debugfs value): bounded, never blocking, regular files only.
 *
 * Why each step: `stat` first so a device is never opened (opening one can
 * have side effects) and a FIFO is never waited on; `O_NONBLOCK` so that a
 * FIFO swapped in after the `stat` cannot block the open; `fstat` on the open
 * descriptor so the checks apply to what was actually opened; and at most
 * `maxBytes + 1` bytes are read, so `/dev/zero`-like or sparse multi-GiB
 * files cost no more memory than the cap, whatever `st_size` claims (procfs
 * and sysfs files report size 0 or 4096 whatever they hold).
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { ClocksourceError } from "../errors.js";
import { describeErrno } from "./errno.js";
import { describeFileKind } from "./file-kind.js";

/** How to read a user-named file. */
export interface ReadUserFileOptions {
  /** Refuse files larger than this many bytes (at most `maxBytes + 1` are ever read). */
  readonly maxBytes: number;
  /** What the file is, for messages: `token file`, `mapping file`, … */
  readonly what: string;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
const CHUNK = 64 * 1024;

function ioError(message: string, cause?: unknown): ClocksourceError {
  return new ClocksourceError("IO_ERROR", message, cause === undefined ? undefined : { cause });
}

function checkOptions(options: ReadUserFileOptions): void {
  if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
    throw new ClocksourceError("INVALID_ARGUMENT", `readUserFile: maxBytes must be a non-negative integer, got ${options.maxBytes}`);
  }
}

function checkRegular(st: Stats, path: string, options: ReadUserFileOptions): void {
  if (!st.isFile()) throw ioError(`${options.what} ${path} is ${describeFileKind(st)}, not a regular file`);
  if (st.size > options.maxBytes) throw tooLarge(path, options);
}

function tooLarge(path: string, options: ReadUserFileOptions): ClocksourceError {
  return ioError(`${options.what} ${path} is larger than ${options.maxBytes} bytes`);
}

function cannot(path: string, options: ReadUserFileOptions, e: unknown): ClocksourceError {
  if (e instanceof ClocksourceError) return e;
  return ioError(`cannot read ${options.what} ${path}: ${describeErrno(e)}`, e);
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Reads a regular file the user named, whole, up to `maxBytes`.
 * A symlink the user named is followed (they named it); the file it leads to
 * must be regular.
 * @throws ClocksourceError `IO_ERROR` with one line naming `what` and `path`: missing,
 *   permission denied, not a regular file (FIFO, socket, device, directory), larger than `maxBytes`
 */
export function readUserFile(path: string, options: ReadUserFileOptions): Buffer {
  checkOptions(options);
  let fd: number | undefined;
  try {
    const before = statSync(path);
    checkRegular(before, path, options);
    fd = openSync(path, OPEN_FLAGS);
    const st = fstatSync(fd);
    checkRegular(st, path, options);
    if (!sameFile(before, st)) throw ioError(`${options.what} ${path} changed while it was being opened`);
    const limit = options.maxBytes + 1;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(CHUNK, limit - total);
      if (want <= 0) break;
      const buf = Buffer.allocUnsafe(want);
      const n = readSync(fd, buf, 0, want, null);
      if (n === 0) break;
      chunks.push(n === want ? buf : buf.subarray(0, n));
      total += n;
    }
    if (total > options.maxBytes) throw tooLarge(path, options);
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw cannot(path, options, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * {@link readUserFile} without blocking the event loop: the same checks and
 * errors, with the reads done on libuv's thread pool. For servers that re-read
 * a file while serving (the agent's `--mapping`).
 */
export async function readUserFileAsync(path: string, options: ReadUserFileOptions): Promise<Buffer> {
  checkOptions(options);
  // node:fs/promises on first use: loading it costs the commands that only read synchronously (convert) ~2 ms at start-up.
  const { open: openAsync, stat: statAsync } = process.getBuiltinModule("node:fs/promises");
  let fh: FileHandle | undefined;
  try {
    const before = await statAsync(path);
    checkRegular(before, path, options);
    fh = await openAsync(path, OPEN_FLAGS);
    const st = await fh.stat();
    checkRegular(st, path, options);
    if (!sameFile(before, st)) throw ioError(`${options.what} ${path} changed while it was being opened`);
    const limit = options.maxBytes + 1;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(CHUNK, limit - total);
      if (want <= 0) break;
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > options.maxBytes) throw tooLarge(path, options);
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw cannot(path, options, e);
  } finally {
    await fh?.close();
  }
}
