/** Messages of this reader name the file and the byte offset of the problem: `<file>: offset 0x…: what`. */
import { ClocksourceError } from "@clocksource/core";

/** `offset 0x1f0`. */
export function at(offset: number): string {
  return `offset 0x${offset.toString(16)}`;
}

/** The typed error of a file that cannot be read any further. */
export function invalid(path: string, offset: number, what: string): ClocksourceError {
  return new ClocksourceError("INVALID_TRACE", `${path}: ${at(offset)}: ${what}`);
}
