import * as zlib from "node:zlib";
import { decompress as fzstdDecompress } from "fzstd";

/** Decompresses one block into exactly `size` bytes, or throws (the caller names the offset). */
export type Decompressor = (data: Uint8Array, size: number) => Uint8Array;

type ZstdSync = (buf: Uint8Array, options?: { maxOutputLength?: number }) => Buffer;
// node:zlib has zstd from Node 22.15; Node 20 uses fzstd (pure JS).
const nodeZstd = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;

/**
 * fzstd 0.1 compares its output-buffer argument with `== 1`, which turns a
 * plain Uint8Array into a string of all its bytes on every call (most of the
 * time of a trace.dat read). An output buffer that converts to a primitive
 * cheaply keeps that comparison false and free; the bytes are the same.
 */
class OutputBuffer extends Uint8Array {
  [Symbol.toPrimitive](): number {
    return 0;
  }
}

function checkSize(out: Uint8Array, size: number): Uint8Array {
  if (out.length !== size) throw new Error(`decompressed to ${out.length} bytes, the header says ${size}`);
  return out;
}

const decompressors: Record<string, Decompressor> = {
  none: (data, size) => checkSize(data, size),
  // trace-cmd's zlib plugin writes zlib streams (compress2), header and checksum included.
  zlib: (data, size) => checkSize(zlib.inflateSync(data, { maxOutputLength: Math.max(size, 1) }), size),
  zstd: nodeZstd
    ? (data, size) => checkSize(nodeZstd(data, { maxOutputLength: Math.max(size, 1) }), size)
    : (data, size) => {
        // fzstd writes into the buffer it is given and never grows it: memory stays bounded by `size`.
        const out = new OutputBuffer(size);
        const r = fzstdDecompress(data, out);
        // A plain view of the same bytes: what the reader hands on must not be of the special class.
        return checkSize(new Uint8Array(r.buffer, r.byteOffset, Math.min(r.length, size)), size);
      },
};

/** The decompressor for a trace.dat v7 compression name, or null when unknown. */
export function decompressorFor(name: string): Decompressor | null {
  return Object.hasOwn(decompressors, name) ? (decompressors[name] as Decompressor) : null;
}

/** Which zstd implementation is in use (for reports and benchmarks). */
export const zstdImplementation: "node:zlib" | "fzstd" = nodeZstd ? "node:zlib" : "fzstd";
