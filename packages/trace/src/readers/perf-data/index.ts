/**
 * perf.data (PERFILE2, file and pipe mode) as a {@link TraceFormatReader}.
 * @packageDocumentation
 */
import type { TraceFormatReader } from "../../model/format-reader.js";
import { isPerfData } from "./header.js";
import { openPerfData } from "./reader.js";

/** Reads `perf record` output: samples, tracepoints with their fields, sideband, in time order. */
export const perfDataFormat: TraceFormatReader = {
  format: "perf.data",
  detect: isPerfData,
  open: openPerfData,
};
