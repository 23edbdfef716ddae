import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from "node:fs";
import { execFileSync } from "node:child_process";
import { isAbsolute, join, normalize, resolve, sep } from "node:path";
import { ClocksourceError } from "../errors.js";

/** The result of reading something through a {@link SystemView}: never thrown, always explained. */
export type ReadOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly source: string; readonly truncated?: boolean }
  | { readonly ok: false; readonly source: string; readonly reason: string; readonly missing: boolean };

/** What kind of filesystem entry a path is. */
export type EntryKind = "file" | "directory" | "character-device" | "other";

export interface ReadOptions {
  /** Read at most this many bytes (default 16 MiB); the outcome says when it stopped early. */
  readonly maxBytes?: number;
}

/**
 * The machine as the probes see it: a root directory (`/` for the live
 * machine, or a snapshot laid out like one, as `lscpu --sysroot` reads).
 * All paths are relative to the root (`proc/cpuinfo`). Reads never throw:
 * a missing, unreadable or odd entry comes back as `{ ok: false, reason }`.
 */
export interface SystemView {
  /** Absolute root directory. */
  readonly root: string;
  /** True when the root is the running machine's `/` (live-only sources allowed: devices, `dmesg`). */
  readonly live: boolean;
  /** How a path is named in a fact's source: `/proc/cpuinfo` live, `proc/cpuinfo` in a snapshot. */
  describe(path: string): string;
  kind(path: string): ReadOutcome<EntryKind>;
  readText(path: string, options?: ReadOptions): ReadOutcome<string>;
  readBytes(path: string, options?: ReadOptions): ReadOutcome<Uint8Array>;
  /** `pread` of `length` bytes at `offset` (for devices such as `dev/cpu/0/cpuid`). */
  readAt(path: string, offset: bigint, length: number): ReadOutcome<Uint8Array>;
  /** Directory entries, sorted. */
  list(path: string): ReadOutcome<string[]>;
  /** The kernel log: `var/log/dmesg` under the root, or on the live machine the `dmesg` command. */
  kernelLog(): ReadOutcome<string>;
}

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** Decodes file bytes as text: UTF-16 with a BOM, otherwise UTF-8 (invalid bytes become U+FFFD). */
export function decodeText(bytes: Uint8Array): string {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder("utf-8").decode(bytes.subarray(3));
  return new TextDecoder("utf-8").decode(bytes);
}

/**
 * One short phrase for a failed file or socket operation (`not present`,
 * `permission denied (needs root?)`, `EADDRINUSE: …`), so every message names
 * system errors the same way.
 */
export function describeErrno(e: unknown): string {
  return errorReason(e).reason;
}

function errorReason(e: unknown): { reason: string; missing: boolean } {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return { reason: "not present", missing: true };
    case "EACCES":
    case "EPERM":
      return { reason: "permission denied (needs root?)", missing: false };
    case "EISDIR":
      return { reason: "is a directory", missing: false };
    case "EIO":
      return { reason: "I/O error", missing: false };
    default:
      return { reason: code ? `${code}: ${(e as Error).message}` : String((e as Error)?.message ?? e), missing: false };
  }
}

function kindOf(st: Stats): EntryKind {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isCharacterDevice()) return "character-device";
  return "other";
}

/** A {@link SystemView} over a directory on this machine. */
export class DirectorySystemView implements SystemView {
  readonly root: string;
  readonly live: boolean;

  /**
   * @param root the root directory (`/` for the live machine)
   * @param live whether live-only sources may be used; defaults to `root === "/"`
   */
  constructor(root: string, live?: boolean) {
    this.root = resolve(root);
    this.live = live ?? this.root === sep;
  }

  /**
   * Opens a view and checks the root is a readable directory.
   * @throws ClocksourceError `SYSROOT_INVALID` when it is not
   */
  static open(root: string, live?: boolean): DirectorySystemView {
    let st: Stats;
    try {
      st = statSync(root);
    } catch (e) {
      throw new ClocksourceError("SYSROOT_INVALID", `cannot use ${root} as a system root: ${errorReason(e).reason}`);
    }
    if (!st.isDirectory()) throw new ClocksourceError("SYSROOT_INVALID", `cannot use ${root} as a system root: not a directory`);
    try {
      readdirSync(root);
    } catch (e) {
      throw new ClocksourceError("SYSROOT_INVALID", `cannot use ${root} as a system root: ${errorReason(e).reason}`);
    }
    return new DirectorySystemView(root, live);
  }

  describe(path: string): string {
    const rel = this.relative(path);
    return this.live ? `/${rel}` : rel;
  }

  private relative(path: string): string {
    const rel = normalize(path).replace(/^[/\\]+/, "");
    return rel === "." ? "" : rel;
  }

  private absolute(path: string): string | undefined {
    const rel = this.relative(path);
    if (isAbsolute(rel) || rel.split(/[/\\]/).includes("..")) return undefined;
    return join(this.root, rel);
  }

  kind(path: string): ReadOutcome<EntryKind> {
    const source = this.describe(path);
    const abs = this.absolute(path);
    if (!abs) return { ok: false, source, reason: "path escapes the root", missing: false };
    try {
      return { ok: true, value: kindOf(statSync(abs)), source };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    }
  }

  readBytes(path: string, options: ReadOptions = {}): ReadOutcome<Uint8Array> {
    const source = this.describe(path);
    const abs = this.absolute(path);
    if (!abs) return { ok: false, source, reason: "path escapes the root", missing: false };
    const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
    let fd: number | undefined;
    try {
      fd = openSync(abs, "r");
      const st = fstatSync(fd);
      // Devices and FIFOs can stream forever: only regular files are read whole.
      if (!st.isFile()) return { ok: false, source, reason: st.isDirectory() ? "is a directory" : `is a ${kindOf(st)}, not a regular file`, missing: false };
      const chunks: Buffer[] = [];
      let total = 0;
      let truncated = false;
      // procfs and sysfs report size 0: read until EOF rather than trusting st.size.
      for (;;) {
        const want = Math.min(64 * 1024, max - total);
        if (want <= 0) {
          const probe = Buffer.allocUnsafe(1);
          truncated = readSync(fd, probe, 0, 1, null) > 0;
          break;
        }
        const buf = Buffer.allocUnsafe(want);
        const n = readSync(fd, buf, 0, want, null);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
      }
      const value = new Uint8Array(Buffer.concat(chunks, total));
      return truncated ? { ok: true, value, source, truncated } : { ok: true, value, source };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  readText(path: string, options?: ReadOptions): ReadOutcome<string> {
    const r = this.readBytes(path, options);
    if (!r.ok) return r;
    const text = decodeText(r.value);
    return r.truncated ? { ok: true, value: text, source: r.source, truncated: true } : { ok: true, value: text, source: r.source };
  }

  readAt(path: string, offset: bigint, length: number): ReadOutcome<Uint8Array> {
    const source = this.describe(path);
    const abs = this.absolute(path);
    if (!abs) return { ok: false, source, reason: "path escapes the root", missing: false };
    let fd: number | undefined;
    try {
      fd = openSync(abs, "r");
      const buf = Buffer.alloc(length);
      const n = readSync(fd, buf, 0, length, offset);
      if (n !== length) return { ok: false, source, reason: `short read: ${n} of ${length} bytes at offset 0x${offset.toString(16)}`, missing: false };
      return { ok: true, value: new Uint8Array(buf), source };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  list(path: string): ReadOutcome<string[]> {
    const source = this.describe(path);
    const abs = this.absolute(path);
    if (!abs) return { ok: false, source, reason: "path escapes the root", missing: false };
    try {
      return { ok: true, value: readdirSync(abs).sort(), source };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    }
  }

  private cachedLog: ReadOutcome<string> | undefined;

  /** Read once per view: several probes consult the log, and on a live machine it is a `dmesg` run. */
  kernelLog(): ReadOutcome<string> {
    this.cachedLog ??= this.readKernelLog();
    return this.cachedLog;
  }

  private readKernelLog(): ReadOutcome<string> {
    const saved = this.readText("var/log/dmesg");
    if (saved.ok || !this.live) return saved;
    try {
      const text = execFileSync("dmesg", [], { encoding: "utf8", timeout: 3000, maxBuffer: 32 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
      return { ok: true, value: text, source: "dmesg" };
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      const detail = err.code === "ENOENT" ? "dmesg command not found" : (err.stderr?.trim().split("\n")[0] ?? err.message);
      return { ok: false, source: "dmesg", reason: `kernel log unreadable: ${detail} (saved log: ${saved.reason})`, missing: false };
    }
  }
}
