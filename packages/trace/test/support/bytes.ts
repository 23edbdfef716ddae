/** Test support: one byte writer for every synthetic file the tests build (trace.dat, perf.data, options). */

/** A growable little/big-endian byte writer. */
export class Bytes {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;
  constructor(readonly le = true) {}
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf);
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number): this {
    const at = this.room(1);
    this.view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.room(2);
    this.view.setUint16(at, v, this.le);
    return this;
  }
  u32(v: number): this {
    const at = this.room(4);
    this.view.setUint32(at, v >>> 0, this.le);
    return this;
  }
  i32(v: number): this {
    const at = this.room(4);
    this.view.setInt32(at, v, this.le);
    return this;
  }
  u64(v: bigint | number): this {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), this.le);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** An unsigned integer of `n` bytes. */
  num(v: number | bigint, n: 1 | 2 | 4 | 8): this {
    return n === 1 ? this.u8(Number(v)) : n === 2 ? this.u16(Number(v)) : n === 4 ? this.u32(Number(v)) : this.u64(v);
  }
  /** A string, NUL-terminated unless `nul` is false. */
  str(text: string, nul = true): this {
    return this.bytes(new TextEncoder().encode(nul ? `${text}\0` : text));
  }
  /** NULs up to a multiple of `to` bytes. */
  pad(to: number): this {
    return this.length % to === 0 ? this : this.bytes(new Uint8Array(to - (this.length % to)));
  }
  /** A NUL-terminated string padded with NULs to a multiple of `align` bytes. */
  cstr(s: string, align = 8): this {
    const b = new TextEncoder().encode(s);
    const n = Math.ceil((b.length + 1) / align) * align;
    const at = this.room(n);
    this.buf.set(b, at);
    this.buf.fill(0, at + b.length, at + n);
    return this;
  }
  /** perf_header_string: u32 length, then the padded string. */
  headerString(s: string): this {
    const b = new Bytes(this.le).cstr(s, 8);
    return this.u32(b.length).bytes(b.done());
  }
  setU64(at: number, v: bigint | number): void {
    this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), this.le);
  }
  setU16(at: number, v: number): void {
    this.view.setUint16(at, v, this.le);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
