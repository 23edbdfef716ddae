/**
 * Naming a failed file or socket operation the same way everywhere. Its own
 * module so that reading or writing a user's file does not load the system
 * view (and with it `node:child_process`).
 */

/** The phrase for an errno error, and whether it means "not there". */
export function errnoReason(e: unknown): { reason: string; missing: boolean } {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return { reason: "not present", missing: true };
    case "EACCES":
    case "EPERM":
      return { reason: "permission denied (needs root?)", missing: false };
    case "EISDIR":
      return { reason: "is a directory", missing: false };
    case "EIO":
      return { reason: "I/O error", missing: false };
    case "ELOOP":
      return { reason: "too many levels of symbolic links (a link loop?)", missing: false };
    default:
      return { reason: code ? `${code}: ${(e as Error).message}` : String((e as Error)?.message ?? e), missing: false };
  }
}

/**
 * One short phrase for a failed file or socket operation (`not present`,
 * `permission denied (needs root?)`, `EADDRINUSE: …`), so every message names
 * system errors the same way.
 */
export function describeErrno(e: unknown): string {
  return errnoReason(e).reason;
}
