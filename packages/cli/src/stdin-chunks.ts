import { read, readSync } from "node:fs";
import { ClocksourceError, describeErrno } from "@clocksource/core/mapping";
import type { CliIo } from "./cli-io.js";
import { isRegularFile } from "./regular-file-fd.js";

/** Bytes asked for per read. */
const READ_BYTES = 256 * 1024;
/** Bytes per read from a regular file, read synchronously (a file never blocks for long). */
const FILE_READ_BYTES = 512 * 1024;

function readInto(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));
}

/**
 * Standard input as chunks. When the command runs as a process (`stdinFd`
 * set), they are read straight from the descriptor into one buffer used again
 * for every chunk — the consumer must be done with a chunk before it asks for
 * the next — so a long conversion leaves no garbage behind. A regular file is
 * read synchronously (a disk read does not wait on anyone, and a round trip
 * through the thread pool per chunk costs more than the read); anything else
 * (a pipe, a terminal) waits in libuv's thread pool, never on the event loop.
 * A descriptor that is non-blocking (EAGAIN) is read through the `stdin`
 * stream from there on.
 * @throws ClocksourceError `IO_ERROR` when standard input cannot be read
 */
export async function* stdinChunks(io: CliIo): AsyncGenerator<Uint8Array> {
  const fd = io.stdinFd;
  if (fd !== undefined) {
    const file = isRegularFile(fd);
    const buf = Buffer.allocUnsafeSlow(file ? FILE_READ_BYTES : READ_BYTES);
    for (;;) {
      let n: number;
      try {
        n = file ? readSync(fd, buf, 0, buf.length, null) : await readInto(fd, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException)?.code === "EAGAIN") break;
        throw new ClocksourceError("IO_ERROR", `cannot read standard input: ${describeErrno(e)}`, { cause: e });
      }
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  }
  for await (const chunk of io.stdin as AsyncIterable<Uint8Array | string>) yield typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}
