/**
 * @packageDocumentation
 * Trace readers (trace.dat v6/v7, perf.data, ftrace text, `perf script` text,
 * JSON lines) into one event model, and the merger that puts guest and host
 * traces on one time base.
 */
export * from "./model/event.js";
export * from "./model/format-reader.js";
export * from "./model/min-heap.js";
export * from "./merge/clock-domains.js";
export * from "./merge/time-edges.js";
export * from "./merge/merger.js";
export * from "./merge/tsc-offset-events.js";
export * from "./merge/plan.js";
export { ticksToNanoseconds } from "./merge/ticks-to-ns.js";
export * from "./writers/writer.js";
export * from "./writers/field-text.js";
export * from "./writers/perfetto.js";
export * from "./writers/chrome-json.js";
export * from "./writers/text.js";
export * from "./writers/jsonl.js";
export * from "./open.js";
export * from "./readers/index.js";
export { clockUnitOf } from "./readers/text/clock-unit.js";
export type { TextReaderOptions } from "./readers/text/line-trace-reader.js";
export { EventLineEncoder } from "./readers/jsonl/event-line-encoder.js";
export { EventLineBytes, type ChunkHandoff } from "./readers/jsonl/event-line-bytes.js";
