import type { Stats } from "node:fs";

/**
 * What a non-regular filesystem entry is, as words for a one-line error
 * (`a FIFO`, `a directory`, …). Shared by the readers and writers of
 * user-named files so every refusal reads the same.
 */
export function describeFileKind(st: Pick<Stats, "isFile" | "isDirectory" | "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice" | "isSymbolicLink">): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}
