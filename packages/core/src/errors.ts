/**
 * Typed errors of the library. Every error thrown by clocksource code is a
 * {@link ClocksourceError} with a stable `code`, so callers (and the CLI) can
 * tell bad input from a missing capability without parsing messages.
 */
export type ClocksourceErrorCode =
  | "INVALID_U64"
  | "INVALID_ARGUMENT"
  | "UNKNOWN_BACKEND"
  | "NO_USABLE_BACKEND"
  | "BACKEND_UNUSABLE"
  | "SYSROOT_INVALID"
  | "INVALID_MAPPING"
  | "OUT_OF_RANGE"
  | "IO_ERROR"
  | "PROTOCOL_ERROR"
  | "TIMEOUT"
  | "AUTH_FAILED"
  | "INVALID_TRACE"
  /** Malformed data read at run time (an input line, a value in a file the tool reads); not for command-line values. */
  | "INVALID_INPUT";

export class ClocksourceError extends Error {
  readonly code: ClocksourceErrorCode;
  constructor(code: ClocksourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ClocksourceError";
    this.code = code;
  }
}

/** Returns true when `e` is a {@link ClocksourceError}, optionally of the given code. */
export function isClocksourceError(e: unknown, code?: ClocksourceErrorCode): e is ClocksourceError {
  return e instanceof ClocksourceError && (code === undefined || e.code === code);
}
