import { constants } from "node:fs";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { ClocksourceError, describeErrno, planUserFileWrite, writeAllSync } from "@clocksource/core";

/**
 * A large output written as it is produced, by the same rules as core's
 * `writeUserFile` (`-` is standard output; a regular file is replaced only at
 * the end, atomically; `/dev/null` and terminals are written in place; nothing
 * else is ever opened or renamed over). Until {@link commit}, a regular file's
 * data goes to a temporary file beside it, which {@link abort} removes: a
 * failed run leaves nothing half-written at the path.
 */
export class OutputStream {
  private constructor(
    private readonly what: string,
    private readonly path: string,
    private readonly stream: NodeJS.WritableStream | null,
    private readonly fh: FileHandle | null,
    private readonly tmp: string | null,
    private readonly finalPath: string | null,
  ) {}

  /** Opens `path` for writing (nothing is replaced until {@link commit}). @throws ClocksourceError `IO_ERROR` */
  static async open(path: string, stdout: NodeJS.WritableStream, what = "output file"): Promise<OutputStream> {
    const target = planUserFileWrite(path, what);
    if (target.kind === "stream") return new OutputStream(what, path, target.stream === "stdout" ? stdout : process.stderr, null, null, null);
    try {
      if (target.kind === "device") {
        const fh = await open(target.path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NOFOLLOW);
        return new OutputStream(what, path, null, fh, null, null);
      }
      const tmp = join(dirname(target.path), `.${basename(target.path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, target.existing ? target.existing.mode & 0o777 : 0o644);
      return new OutputStream(what, path, null, fh, tmp, target.path);
    } catch (e) {
      throw new ClocksourceError("IO_ERROR", `cannot write ${what} ${path}: ${describeErrno(e)}`, { cause: e });
    }
  }

  /**
   * Writes chunks and resolves once they have been handed to the kernel, so a
   * chunk that is a view of a buffer the caller reuses may be reused then.
   * Files and devices are written synchronously: the merge has nothing to do
   * while its output is written (its readers read synchronously too), and a
   * thread-pool round trip per MiB cost more than the write itself.
   */
  async write(chunks: readonly (Uint8Array | string)[]): Promise<void> {
    if (chunks.length === 0) return;
    try {
      if (this.stream) {
        const s = this.stream;
        let last: Promise<void> = Promise.resolve();
        for (const c of chunks) {
          last = new Promise<void>((resolve, reject) => {
            s.write(c, (e?: Error | null) => (e ? reject(e) : resolve()));
          });
        }
        await last;
        return;
      }
      const fd = (this.fh as FileHandle).fd;
      for (const c of chunks) {
        writeAllSync(fd, typeof c === "string" ? Buffer.from(c, "utf8") : c);
      }
    } catch (e) {
      throw new ClocksourceError("IO_ERROR", `cannot write ${this.what} ${this.path}: ${describeErrno(e)}`, { cause: e });
    }
  }

  /** Finishes: flushes a file to disk and moves it into place. */
  async commit(): Promise<void> {
    if (!this.fh) return;
    try {
      if (this.tmp) await this.fh.sync();
      await this.fh.close();
      if (this.tmp && this.finalPath) await rename(this.tmp, this.finalPath);
    } catch (e) {
      if (this.tmp) await rm(this.tmp, { force: true });
      throw new ClocksourceError("IO_ERROR", `cannot write ${this.what} ${this.path}: ${describeErrno(e)}`, { cause: e });
    }
  }

  /** Gives up: removes the temporary file; the path keeps what it had. */
  async abort(): Promise<void> {
    if (!this.fh) return;
    await this.fh.close().catch(() => undefined);
    if (this.tmp) await rm(this.tmp, { force: true });
  }
}
