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

/**
 * Marks every ClocksourceError, whichever copy of this package made it: a
 * plugin loaded by the bundled command line brings its own `@clocksource/core`,
 * and `instanceof` cannot see across copies.
 */
const BRAND = Symbol.for("@clocksource/core.ClocksourceError");
Object.defineProperty(ClocksourceError.prototype, BRAND, { value: true });

/**
 * Returns true when `e` is a {@link ClocksourceError}, optionally of the given
 * code — also one made by another copy of `@clocksource/core`.
 */
export function isClocksourceError(e: unknown, code?: ClocksourceErrorCode): e is ClocksourceError {
  const branded = e instanceof ClocksourceError || (typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true && typeof (e as { code?: unknown }).code === "string");
  return branded && (code === undefined || (e as ClocksourceError).code === code);
}
