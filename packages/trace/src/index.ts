/**
 * @packageDocumentation
 * Trace readers (trace.dat v6/v7, perf.data, ftrace text, `perf script` text,
 * JSON lines) into one event model, and the merger that puts guest and host
 * traces on one time base.
 */
export * from "./model/event.js";
export * from "./model/format-reader.js";
export * from "./model/min-heap.js";
