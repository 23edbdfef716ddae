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
