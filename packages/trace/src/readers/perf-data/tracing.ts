/**
 * perf's HEADER_TRACING_DATA through the shared ftrace parser. A block that
 * does not parse costs the tracepoint field values (and `system:name` from the
 * formats), not the events, so it is a warning here, naming where the block is.
 */
import { isClocksourceError } from "@clocksource/core";
import { parseTracingData, type TracingData } from "../../ftrace/index.js";
import { at } from "./errors.js";
import type { WarningLog } from "./warnings.js";

export function readTracing(bytes: Uint8Array, offset: number, littleEndian: boolean, warn: WarningLog): TracingData | null {
  // The parser's offsets count from the start of the block.
  const where = `tracing data at ${at(offset)}, relative`;
  try {
    const t = parseTracingData(bytes, littleEndian, where);
    for (const w of t.warnings) warn.add("tracing-data", w);
    return t;
  } catch (e) {
    if (!isClocksourceError(e, "INVALID_TRACE")) throw e;
    warn.add("tracing-data", `${e.message}; tracepoint fields are not decoded`);
    return null;
  }
}
