import { spawnSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import type { CliIo } from "../src/cli-io.js";
import { stdinChunks } from "../src/stdin-chunks.js";

const tmp = mkdtempSync(join(tmpdir(), `stdin-chunks-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const haveMkfifo = spawnSync("mkfifo", ["--version"]).status === 0;
if (!haveMkfifo) console.log("stdin-chunks FIFO test skipped: mkfifo is not installed");

function io(fd: number | undefined, stdin: NodeJS.ReadableStream): CliIo {
  return { stdout: new PassThrough(), stderr: new PassThrough(), stdin, ...(fd !== undefined ? { stdinFd: fd } : {}), env: {} };
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c)); // a chunk is only valid until the next is asked for
  return Buffer.concat(parts);
}

describe("stdinChunks", () => {
  it("a regular file, read from its descriptor into one reused buffer", async () => {
    const path = join(tmp, "in.txt");
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `${i}\n`).join(""));
    writeFileSync(path, data);
    const fd = openSync(path, "r");
    try {
      expect((await collect(stdinChunks(io(fd, new PassThrough())))).equals(data)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it.skipIf(!haveMkfifo)("a non-blocking descriptor (EAGAIN) goes on through the stream, losing nothing", async () => {
    const fifo = join(tmp, "fifo");
    spawnSync("mkfifo", [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY);
    // What process.stdin is for a pipe: a libuv stream on the descriptor.
    const stream = new Socket({ fd: rfd, readable: true, writable: false });
    const got = collect(stdinChunks(io(rfd, stream)));
    writeSync(wfd, "first\n");
    await new Promise((r) => setTimeout(r, 50));
    writeSync(wfd, "second\n");
    closeSync(wfd);
    expect((await got).toString()).toBe("first\nsecond\n");
  });

  it("without a descriptor, the stream itself", async () => {
    const s = new PassThrough();
    const got = collect(stdinChunks(io(undefined, s)));
    s.end("a\nb\n");
    expect((await got).toString()).toBe("a\nb\n");
  });
});
