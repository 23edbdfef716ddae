import { fstatSync } from "node:fs";

/**
 * Whether a descriptor is a regular file, which the standard streams of a
 * command such as convert then read or write synchronously: a disk never
 * leaves a read or write waiting on another process, unlike a pipe, socket
 * or terminal.
 */
export function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether a stream writes to a file descriptor of this process (process.stdout
 * and stderr): such a stream is done with a chunk once it is written, unlike a
 * stream in memory (a test's collector, a Transform), which may keep it.
 */
export function writesToDescriptor(stream: NodeJS.WritableStream): boolean {
  return typeof (stream as { fd?: unknown }).fd === "number";
}
