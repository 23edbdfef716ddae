import * as zlib from "node:zlib";
import { decompress as fzstdDecompress } from "fzstd";

/** Decompresses one block into exactly `size` bytes, or throws (the caller names the offset). */
export type Decompressor = (data: Uint8Array, size: number) => Uint8Array;

type ZstdSync = (buf: Uint8Array, options?: { maxOutputLength?: number }) => Buffer;
// node:zlib has zstd from Node 22.15; Node 20 uses fzstd (pure JS).
const nodeZstd = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;

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
        const out = new Uint8Array(size);
        const r = fzstdDecompress(data, out);
        return checkSize(r.length === size ? r : r.subarray(0, size), size);
      },
};

/** The decompressor for a trace.dat v7 compression name, or null when unknown. */
export function decompressorFor(name: string): Decompressor | null {
  return Object.hasOwn(decompressors, name) ? (decompressors[name] as Decompressor) : null;
}

/** Which zstd implementation is in use (for reports and benchmarks). */
export const zstdImplementation: "node:zlib" | "fzstd" = nodeZstd ? "node:zlib" : "fzstd";
