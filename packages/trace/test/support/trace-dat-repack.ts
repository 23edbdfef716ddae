/**
 * Test support: rewrites a trace.dat v7 with another compression.
 *
 * Debian's trace-cmd 3.1.6 has zstd but not zlib, so zlib files are made here:
 * the metadata sections and the options are recompressed whole, the per-CPU
 * ring-buffer pages in chunks of `chunkPages` pages, with node:zlib (a zlib
 * stream, as trace-cmd's zlib plugin writes) or zstd. Offsets are recomputed;
 * the strings section (section descriptions only) is dropped.
 */
import * as zlib from "node:zlib";
import { BufferCursor } from "../../src/ftrace/byte-cursor.js";
import { readTracingHeader } from "../../src/ftrace/tracing-data.js";
import { decompressorFor } from "../../src/readers/trace-dat/decompress.js";
import { OPTION, parseBufferOption } from "../../src/readers/trace-dat/options.js";
import { Bytes } from "./bytes.js";

type Compression = "none" | "zlib" | "zstd";


function compress(c: Compression, data: Uint8Array): Uint8Array {
  if (c === "zlib") return zlib.deflateSync(data);
  if (c === "zstd") {
    const z = (zlib as unknown as { zstdCompressSync?: (b: Uint8Array) => Uint8Array }).zstdCompressSync;
    if (!z) throw new Error("zstd compression needs Node >= 22.15");
    return z(data);
  }
  return data;
}

interface Section {
  id: number;
  flags: number;
  body: Uint8Array;
}

/** Re-encodes a v7 file with `compression`. */
export function repackV7(file: Uint8Array, compression: Compression, chunkPages: number): Uint8Array {
  const where = "repack";
  const h = readTracingHeader(file, where);
  if (h.version !== "7") throw new Error("repackV7 needs a version 7 file");
  const le = h.littleEndian;
  const hc = new BufferCursor(file, le, where, 0, h.end);
  const oldComp = hc.cstring(64);
  hc.cstring(64);
  let next = Number(hc.u64());
  const dec = decompressorFor(oldComp);
  const readSection = (at: number): Section => {
    const c = new BufferCursor(file, le, where, 0, at);
    const id = c.u16();
    const flags = c.u16();
    c.u32();
    const size = Number(c.u64());
    if (flags & 1) {
      const csize = c.u32();
      const usize = c.u32();
      return { id, flags, body: (dec as NonNullable<typeof dec>)(c.bytes(csize), usize) };
    }
    return { id, flags, body: c.bytes(size) };
  };
  const options: { id: number; payload: Uint8Array }[] = [];
  while (next !== 0) {
    const s = readSection(next);
    const c = new BufferCursor(s.body, le, where);
    next = 0;
    while (c.remaining > 0) {
      const id = c.u16();
      const payload = c.bytes(c.u32());
      if (id === OPTION.DONE) {
        next = Number(new BufferCursor(payload, le, where).u64());
        break;
      }
      options.push({ id, payload });
    }
  }
  const out = new Bytes(le);
  out.bytes(file.subarray(0, h.end));
  out.str(compression);
  out.str(compression === "zlib" ? "1.2.13" : compression === "zstd" ? "1.5.4" : "");
  const optionsAtPatch = out.length;
  out.num(0, 8);

  const writeSection = (id: number, body: Uint8Array): number => {
    const at = out.length;
    const packed = compression !== "none";
    const data = packed ? compress(compression, body) : body;
    out.num(id, 2);
    out.num(packed ? 1 : 0, 2);
    out.num(0, 4);
    out.num(packed ? data.length + 8 : data.length, 8);
    if (packed) {
      out.num(data.length, 4);
      out.num(body.length, 4);
    }
    out.bytes(data);
    return at;
  };

  const newOptions: { id: number; payload: Uint8Array }[] = [];
  const patches: { at: number; value: number }[] = [];
  for (const o of options) {
    if (o.id >= OPTION.HEADER_INFO && o.id <= OPTION.CMDLINES) {
      const s = readSection(Number(new BufferCursor(o.payload, le, where).u64()));
      const at = writeSection(o.id, s.body);
      const p = new Bytes(le);
      p.num(at, 8);
      newOptions.push({ id: o.id, payload: p.done() });
    } else if (o.id === OPTION.BUFFER) {
      const b = parseBufferOption(o.payload, le, where, 0, true, false);
      const old = readSection(b.offset);
      const compressedData = (old.flags & 1) !== 0;
      const secAt = out.length;
      out.num(old.id, 2);
      out.num(compression !== "none" ? 1 : 0, 2);
      out.num(0, 4);
      const sizePatch = out.length;
      out.num(0, 8);
      const pageSize = b.pageSize ?? h.pageSize;
      const cpus: { cpu: number; offset: number; size: number }[] = [];
      for (const cd of b.cpus ?? []) {
        let pages: Uint8Array;
        if (cd.size === 0) pages = new Uint8Array(0);
        else if (!compressedData) pages = file.subarray(cd.offset, cd.offset + cd.size);
        else {
          const c = new BufferCursor(file, le, where, 0, cd.offset);
          const count = c.u32();
          const chunks: Uint8Array[] = [];
          for (let i = 0; i < count; i++) {
            const csize = c.u32();
            const usize = c.u32();
            chunks.push((dec as NonNullable<typeof dec>)(c.bytes(csize), usize));
          }
          const o2 = new Bytes(le);
          for (const ch of chunks) o2.bytes(ch);
          pages = o2.done();
        }
        out.pad(pageSize);
        const at = out.length;
        if (compression === "none" || pages.length === 0) out.bytes(pages);
        else {
          const step = pageSize * chunkPages;
          const n = Math.ceil(pages.length / step);
          out.num(n, 4);
          for (let i = 0; i < n; i++) {
            const raw = pages.subarray(i * step, Math.min(pages.length, (i + 1) * step));
            const z = compress(compression, raw);
            out.num(z.length, 4);
            out.num(raw.length, 4);
            out.bytes(z);
          }
        }
        cpus.push({ cpu: cd.cpu, offset: at, size: out.length - at });
      }
      const sectionSize = out.length - (sizePatch + 8);
      const p = new Bytes(le);
      p.num(secAt, 8);
      p.str(b.name);
      p.str(b.clock ?? "");
      p.num(pageSize, 4);
      p.num(cpus.length, 4);
      for (const c of cpus) {
        p.num(c.cpu, 4);
        p.num(c.offset, 8);
        p.num(c.size, 8);
      }
      newOptions.push({ id: o.id, payload: p.done() });
      patches.push({ at: sizePatch, value: sectionSize });
    } else if (o.id !== OPTION.STRINGS) newOptions.push(o);
  }
  const opt = new Bytes(le);
  for (const o of newOptions) {
    opt.num(o.id, 2);
    opt.num(o.payload.length, 4);
    opt.bytes(o.payload);
  }
  opt.num(OPTION.DONE, 2);
  opt.num(8, 4);
  opt.num(0, 8);
  const optionsAt = writeSection(0, opt.done());
  const result = out.done();
  const dv = new DataView(result.buffer);
  dv.setBigUint64(optionsAtPatch, BigInt(optionsAt), le);
  for (const p of patches) dv.setBigUint64(p.at, BigInt(p.value), le);
  return result;
}
