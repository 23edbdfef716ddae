/**
 * Every format the library reads, in the order `openTrace` asks them to
 * recognise a file: binary formats (exact magic numbers) before text ones.
 */
import type { TraceFormatReader } from "../model/format-reader.js";
import { ftraceTextFormat } from "./ftrace-text/index.js";
import { jsonLinesFormat } from "./jsonl/index.js";
import { perfDataFormat } from "./perf-data/index.js";
import { perfScriptFormat } from "./perf-script/index.js";
import { traceDatFormat } from "./trace-dat/index.js";

export { ftraceTextFormat } from "./ftrace-text/index.js";
export { jsonLinesFormat } from "./jsonl/index.js";
export { perfDataFormat } from "./perf-data/index.js";
export { perfScriptFormat } from "./perf-script/index.js";
export { traceDatFormat } from "./trace-dat/index.js";

/** The readers, most specific first. */
export const TRACE_FORMATS: readonly TraceFormatReader[] = [traceDatFormat, perfDataFormat, jsonLinesFormat, ftraceTextFormat, perfScriptFormat];
