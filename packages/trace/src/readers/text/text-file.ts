/**
 * Reading a trace file as text: regular files only (a FIFO is never waited on,
 * a device never opened), in chunks, split into lines of bounded length.
 */
import { constants } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { ClocksourceError, describeErrno, describeFileKind } from "@clocksource/core";

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The longest line a text reader accepts; a longer one is damage (or not text), not an event. */
export const MAX_LINE_CHARS = 1 << 20;

const CHUNK_BYTES = 256 * 1024;

/**
 * Opens a trace file for reading. `stat` first so a device or FIFO is refused
 * before it is opened; `fstat` afterwards so the check applies to what was
 * actually opened.
 * @throws ClocksourceError `IO_ERROR` naming the path: missing, unreadable, not a regular file
 */
export async function openRegularFile(path: string): Promise<FileHandle> {
  let fh: FileHandle | undefined;
  try {
    const before = await stat(path);
    if (!before.isFile()) throw new ClocksourceError("IO_ERROR", `${path} is ${describeFileKind(before)}, not a regular file`);
    fh = await open(path, OPEN_FLAGS);
    const st = await fh.stat();
    if (!st.isFile() || st.dev !== before.dev || st.ino !== before.ino) throw new ClocksourceError("IO_ERROR", `${path} changed while it was being opened`);
    return fh;
  } catch (e) {
    await fh?.close();
    if (e instanceof ClocksourceError) throw e;
    throw new ClocksourceError("IO_ERROR", `cannot read ${path}: ${describeErrno(e)}`, { cause: e });
  }
}

/** Reads up to `max` bytes from the start of a file (fewer for a short file). */
export async function readHead(path: string, max: number): Promise<Uint8Array> {
  const fh = await openRegularFile(path);
  try {
    const buf = new Uint8Array(max);
    let n = 0;
    while (n < max) {
      const { bytesRead } = await fh.read(buf, n, max - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof ClocksourceError) throw e;
    throw new ClocksourceError("IO_ERROR", `cannot read ${path}: ${describeErrno(e)}`, { cause: e });
  } finally {
    await fh.close();
  }
}

/** Complete lines from one chunk of a file; `firstLine` is the 1-based number of `lines[0]`. */
export interface LineChunk {
  readonly lines: string[];
  readonly firstLine: number;
}

/**
 * The lines of a text file, a chunk at a time (one `await` per chunk, not per
 * line). Lines end at `\n`; a trailing `\r` is dropped; the last line need not
 * end with a newline. Each chunk is cut after its last newline byte (which is
 * never part of a multi-byte UTF-8 sequence) and decoded in one go; invalid
 * UTF-8 decodes to U+FFFD rather than failing: the line parser then reports
 * the line.
 * @throws ClocksourceError `INVALID_TRACE` for a line longer than `maxLineChars` bytes, `IO_ERROR`
 */
export async function* readLines(path: string, options: { maxLineChars?: number; chunkBytes?: number } = {}): AsyncGenerator<LineChunk> {
  const maxLine = options.maxLineChars ?? MAX_LINE_CHARS;
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const fh = await openRegularFile(path);
  try {
    let carry: Buffer = Buffer.alloc(0);
    let lineNo = 1;
    let position = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkBytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, 0, chunkBytes, position));
      } catch (e) {
        throw new ClocksourceError("IO_ERROR", `cannot read ${path} at offset ${position}: ${describeErrno(e)}`, { cause: e });
      }
      const eof = bytesRead === 0;
      position += bytesRead;
      const data = carry.length === 0 ? buf.subarray(0, bytesRead) : Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      const cut = eof ? data.length : data.lastIndexOf(10) + 1;
      carry = eof ? Buffer.alloc(0) : Buffer.from(data.subarray(cut));
      if (carry.length > maxLine) throw new ClocksourceError("INVALID_TRACE", `${path}: line ${lineNo + countNewlines(data, cut)}: longer than ${maxLine} bytes (not a text trace?)`);
      if (cut > 0) {
        const lines = data.toString("utf8", 0, cut).split("\n");
        if (lines[lines.length - 1] === "") lines.pop();
        for (let i = 0; i < lines.length; i++) {
          const l = lines[i] as string;
          if (l.length > maxLine) throw new ClocksourceError("INVALID_TRACE", `${path}: line ${lineNo + i}: longer than ${maxLine} bytes (not a text trace?)`);
          if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
        }
        if (lines.length > 0) {
          yield { lines, firstLine: lineNo };
          lineNo += lines.length;
        }
      }
      if (eof) return;
    }
  } finally {
    await fh.close();
  }
}

function countNewlines(b: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (b[i] === 10) n++;
  return n;
}

/** True when a file's first bytes look like text: no NUL byte, and not mostly control bytes. */
export function looksLikeText(head: Uint8Array): boolean {
  let control = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i] as number;
    if (b === 0) return false;
    if (b < 0x09 || (b > 0x0d && b < 0x20)) control++;
  }
  return control * 20 <= head.length;
}

/** The complete lines of a file head (the last, possibly cut line dropped when the head was full). */
export function headLines(head: Uint8Array, full: boolean): string[] {
  const text = new TextDecoder("utf-8").decode(head);
  const lines = text.split("\n");
  if (full) lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}
