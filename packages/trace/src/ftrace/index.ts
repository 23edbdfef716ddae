/**
 * ftrace metadata shared by the trace.dat and perf.data readers: event
 * `format` files, the tracing-data block, and per-format record decoders.
 */
export { parseEventFormat, parseHeaderPage, type EventFormat, type FormatField, type PageHeaderLayout } from "./event-format.js";
export { createFieldDecoder, createFieldsDecoder, commonPidOffset, type FieldDecoder, type FieldsDecoder } from "./field-decoder.js";
export {
  parseTracingData,
  parseCmdlines,
  parsePrintkFormats,
  hasTracingMagic,
  readTracingHeader,
  readHeaderInfo,
  readFtraceFormats,
  readEventFormats,
  readPrintk,
  readCmdlines,
  skipKallsyms,
  TRACING_LIMITS,
  FormatTable,
  eagerFormats,
  type FormatSink,
  type TracingData,
  type TracingHeader,
} from "./tracing-data.js";
export { BufferCursor, decodeText, invalidTrace, hexOffset, safeNumber, type ByteCursor } from "./byte-cursor.js";
