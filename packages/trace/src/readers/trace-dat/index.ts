/**
 * trace-cmd's trace.dat, versions 6 and 7 (compression none, zlib, zstd):
 * detected by its `\x17\x08\x44tracing` magic and version, read page by page.
 */
import { ClocksourceError } from "@clocksource/core";
import type { TraceFormatReader } from "../../model/format-reader.js";
import { hasTracingMagic } from "../../ftrace/tracing-data.js";
import { FileSource } from "./file-source.js";
import { readTraceDatLayout } from "./metadata.js";
import { TraceDatReader } from "./reader.js";

export { TraceDatReader, ftraceClockUnit } from "./reader.js";
export { zstdImplementation } from "./decompress.js";

/** The trace.dat format: `detect` needs the magic and a version string (any, so a v8 file is opened and refused with its version named). */
export const traceDatFormat: TraceFormatReader = {
  format: "trace-cmd",
  detect(head: Uint8Array): boolean {
    if (!hasTracingMagic(head)) return false;
    // perf's tracing data starts with the same magic but is never a file of its own.
    for (let i = 10; i < Math.min(head.length, 26); i++) if (head[i] === 0) return i > 10;
    return head.length < 26 && head.length > 10;
  },
  async open(path, options) {
    const src = new FileSource(path);
    try {
      const layout = readTraceDatLayout(src);
      return new TraceDatReader(src, layout, options);
    } catch (e) {
      src.close();
      if (e instanceof ClocksourceError) throw e;
      throw new ClocksourceError("INVALID_TRACE", `${path}: ${(e as Error).message}`, { cause: e });
    }
  },
};
