import { closeSync, constants, fstatSync, lstatSync, openSync, opendirSync, readlinkSync, readSync, realpathSync, statSync, type Stats } from "node:fs";
import { resolve, sep } from "node:path";
import { ClocksourceError } from "../errors.js";
import { describeErrno, errnoReason } from "../io/errno.js";
import { describeFileKind } from "../io/file-kind.js";
import { KMSG_PATH, readKmsg } from "./kmsg.js";

/** The result of reading something through a {@link SystemView}: never thrown, always explained. */
export type ReadOutcome<T> =
  | {
      readonly ok: true;
      readonly value: T;
      readonly source: string;
      /** The read stopped at its cap (and the view's {@link SystemView.cuts} lists it). */
      readonly truncated?: boolean;
      /**
       * Where the path led inside the root, every link followed (`sys/class/ptp/ptp0` →
       * `sys/devices/virtual/ptp/ptp0`; `""` is the root). Set by {@link DirectorySystemView}.
       */
      readonly resolved?: string;
    }
  | { readonly ok: false; readonly source: string; readonly reason: string; readonly missing: boolean };

/** What kind of filesystem entry a path is (after following links inside the root). */
export type EntryKind = "file" | "directory" | "character-device" | "block-device" | "fifo" | "socket" | "other";

export interface ReadOptions {
  /** Read at most this many bytes (default {@link DEFAULT_MAX_BYTES}); the outcome says when it stopped early. */
  readonly maxBytes?: number;
}

export interface ListOptions {
  /** List at most this many entries (default {@link DEFAULT_MAX_ENTRIES}); the outcome says when it stopped early. */
  readonly maxEntries?: number;
}

/**
 * An input a view read only in part because it passed a limit. The prober
 * turns each into an `input.truncated` fact, so a cut never goes unsaid.
 */
export interface InputCut {
  /** The input as facts name it (`var/log/dmesg`, `dmesg`, `/proc/cpuinfo`). */
  readonly source: string;
  /** The limit it was cut at. */
  readonly limit: number;
  readonly unit: "bytes" | "entries";
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
  list(path: string, options?: ListOptions): ReadOutcome<string[]>;
  /** The kernel log: `var/log/dmesg` under the root, or on the live machine the `dmesg` command. */
  kernelLog(): ReadOutcome<string>;
  /** The inputs read only in part so far (each once), for the `input.truncated` facts. */
  cuts?(): readonly InputCut[];
}

/** The default cap of one read: the largest kernel log buffer Linux allows is 32 MiB, real ones are far smaller. */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** The default cap of one directory listing. */
export const DEFAULT_MAX_ENTRIES = 100_000;
/** Links followed while resolving one path, as Linux's `MAXSYMLINKS`: beyond it is a loop. */
const MAX_LINKS = 40;
/** The character devices a live view may `pread`: the cpuid driver's. */
const READABLE_DEVICES = /^dev\/cpu\/\d+\/cpuid$/;
/** Directories a view remembers having resolved (a bound on its memory). */
const DIR_CACHE_MAX = 4096;
/** Cuts remembered per view: a bound, since a corrupt tree could cut many inputs. */
const MAX_CUTS = 256;

/** Decodes file bytes as text: UTF-16 with a BOM, otherwise UTF-8 (invalid bytes become U+FFFD). */
export function decodeText(bytes: Uint8Array): string {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder("utf-8").decode(bytes.subarray(3));
  return new TextDecoder("utf-8").decode(bytes);
}

export { describeErrno };
const errorReason = errnoReason;

function kindOf(st: Stats): EntryKind {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isCharacterDevice()) return "character-device";
  if (st.isBlockDevice()) return "block-device";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  return "other";
}

/** Why an entry is not read: `is a directory`, `is a FIFO, not a regular file`. */
function notRegular(st: Stats): string {
  return st.isDirectory() ? "is a directory" : `is ${describeFileKind(st)}, not a regular file`;
}

/** Path components, without the empty and `.` ones. */
function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/** Never block (FIFO), never take a terminal, never follow a link swapped in at the last component. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The size of the buffer reads go through (larger files take several reads). */
const SCRATCH_BYTES = 64 * 1024;
let scratch: Uint8Array | undefined;

/** The one buffer every view reads files through; a plain Uint8Array, so that `slice` copies. */
function scratchBuffer(): Uint8Array {
  return (scratch ??= new Uint8Array(SCRATCH_BYTES));
}

function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

type Resolved = { readonly ok: true; readonly rel: string; readonly abs: string; readonly st: Stats } | { readonly ok: false; readonly reason: string; readonly missing: boolean };

/** The process's own view of an open descriptor (Linux); undefined where there is no `/proc`. */
function fdPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * A {@link SystemView} over a directory on this machine. Every path is
 * resolved component by component inside the root, as a chroot (or
 * `lscpu --sysroot`) would: a link's absolute target starts again at the
 * root, `..` stops at the root, and more than 40 links in one path is a loop.
 * Only then is the last component opened — without following a link, without
 * blocking, and only when it is a regular file (or, on a live view, the cpuid
 * device for {@link readAt}); a FIFO, socket or device is never opened. What
 * was opened is checked again (`fstat`, and on Linux the descriptor's path
 * lies inside the root), so a path swapped during the walk cannot lead out.
 * Reads are capped; a cut is remembered and reported by {@link cuts}.
 */
export class DirectorySystemView implements SystemView {
  readonly root: string;
  readonly live: boolean;
  /** The root with its own links resolved: what a descriptor's path must start with. */
  private readonly realRoot: string;
  private readonly cutList = new Map<string, InputCut>();

  /**
   * @param root the root directory (`/` for the live machine)
   * @param live whether live-only sources may be used; defaults to `root === "/"`
   */
  constructor(root: string, live?: boolean) {
    this.root = resolve(root);
    this.live = live ?? this.root === sep;
    let real = this.root;
    try {
      real = realpathSync(this.root);
    } catch {
      // A root that does not exist reads as empty: every path is "not present".
    }
    // A magic link such as /proc/PID/root (a container's root) "resolves" to `/`:
    // keep going through it, and skip the descriptor-path check it would fail.
    this.realRoot = real === sep && this.root !== sep ? this.root : real;
    this.rootPrefix = this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep;
    this.checkOpened = real !== sep;
  }

  /** {@link realRoot} ending in the separator, so that a resolved path is one concatenation away. */
  private readonly rootPrefix: string;

  /**
   * The absolute path of components already resolved: none is empty, `.`, `..` or holds a
   * separator, so this is what `path.join` would give, without normalising the string each time.
   */
  private absOf(parts: readonly string[], name?: string): string {
    if (parts.length === 0) return name === undefined ? this.realRoot : this.rootPrefix + name;
    const dir = this.rootPrefix + parts.join(sep);
    return name === undefined ? dir : dir + sep + name;
  }

  /** Whether an opened descriptor's path (`/proc/self/fd`) must be the path resolved. */
  private readonly checkOpened: boolean;

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
      opendirSync(root).closeSync();
    } catch (e) {
      throw new ClocksourceError("SYSROOT_INVALID", `cannot use ${root} as a system root: ${errorReason(e).reason}`);
    }
    return new DirectorySystemView(root, live);
  }

  describe(path: string): string {
    const rel = components(path).join("/");
    return this.live ? `/${rel}` : rel;
  }

  /** Resolves `path` inside the root; `lstat` of each component, links re-rooted. */
  private walk(path: string): Resolved {
    const input = components(path);
    let done: string[] = [];
    let links = 0;
    let lastLink: { at: string; target: string } | undefined;
    let st: Stats;
    // Start from the deepest directory already resolved on this path.
    let from = 0;
    let cached: Stats | undefined;
    for (let k = input.length - 1; k > 0 && cached === undefined; k--) {
      const hit = this.dirCache.get(input.slice(0, k).join("/"));
      if (hit) {
        from = k;
        done = [...hit.done];
        cached = hit.st;
        links = hit.links;
      }
    }
    try {
      st = cached ?? statSync(this.realRoot);
    } catch (e) {
      return { ok: false, ...errorReason(e) };
    }
    const pending = input.slice(from).reverse();
    // The input's own components stay at the bottom of `pending`; link targets are pushed above them.
    let inputLeft = pending.length;
    try {
      while (pending.length > 0) {
        if (pending.length === inputLeft && inputLeft < input.length - from && st.isDirectory()) this.remember(input.slice(0, input.length - inputLeft).join("/"), done, st, links);
        if (pending.length === inputLeft) inputLeft--;
        const name = pending.pop() as string;
        // Only a directory has entries (and a `..`): anything else ends the walk as ENOTDIR would.
        if (!st.isDirectory()) return { ok: false, reason: "not present", missing: true };
        if (name === "..") {
          // The parent in the walk, never above the root (`..` of the root is the root).
          done.pop();
          // The root itself may be a link the user chose (a container's /proc/PID/root): follow it.
          st = done.length === 0 ? statSync(this.realRoot) : lstatSync(this.absOf(done));
          continue;
        }
        const dir: Stats = st;
        const abs = this.absOf(done, name);
        // A missing entry comes back as undefined rather than as a thrown error: most probes look for files that may not be there.
        const next = lstatSync(abs, { throwIfNoEntry: false });
        if (next === undefined) return this.notPresent(lastLink);
        st = next;
        if (st.isSymbolicLink()) {
          if (++links > MAX_LINKS) return { ok: false, reason: `too many levels of symbolic links (a link loop?) at ${this.describe([...done, name].join("/"))}`, missing: false };
          const target = readlinkSync(abs);
          lastLink = { at: [...done, name].join("/"), target };
          // An absolute target starts again at the root, as in a chroot.
          if (target.startsWith("/")) {
            done.length = 0;
            st = statSync(this.realRoot);
          } else {
            st = dir;
          }
          pending.push(...components(target).reverse());
          continue;
        }
        done.push(name);
      }
    } catch (e) {
      const why = errorReason(e);
      if (why.missing) return this.notPresent(lastLink);
      return { ok: false, ...why };
    }
    return { ok: true, rel: done.join("/"), abs: this.absOf(done), st };
  }

  /** A path that is not there; a link that leads nowhere is named: `proc/cpuinfo -> /etc/x` looks for the root's etc/x, not this machine's. */
  private notPresent(lastLink: { at: string; target: string } | undefined): Resolved {
    if (lastLink) return { ok: false, missing: true, reason: `not present (the symbolic link ${this.describe(lastLink.at)} -> ${lastLink.target} leads nowhere inside the root)` };
    return { ok: false, ...errorReason({ code: "ENOENT" }) };
  }

  /**
   * Directories resolved on the way, by the path that was asked for: a tree
   * walk resolves each parent once. A stale entry cannot lead out of the root:
   * every open is checked against where it really led.
   */
  private readonly dirCache = new Map<string, { readonly done: readonly string[]; readonly st: Stats; readonly links: number }>();

  private remember(key: string, done: readonly string[], st: Stats, links: number): void {
    if (this.dirCache.has(key)) return;
    if (this.dirCache.size >= DIR_CACHE_MAX) this.dirCache.clear();
    this.dirCache.set(key, { done: [...done], st, links });
  }


  kind(path: string): ReadOutcome<EntryKind> {
    const source = this.describe(path);
    const r = this.walk(path);
    if (!r.ok) return { ok: false, source, reason: r.reason, missing: r.missing };
    return { ok: true, value: kindOf(r.st), source, resolved: r.rel };
  }

  /**
   * Opens a resolved entry without following a link and without blocking,
   * and checks that what was opened is what was resolved, inside the root.
   */
  private openResolved(r: Extract<Resolved, { ok: true }>): { ok: true; fd: number } | { ok: false; reason: string; missing: boolean } {
    let fd: number;
    try {
      fd = openSync(r.abs, OPEN_FLAGS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ELOOP") return { ok: false, reason: "became a symbolic link while being opened", missing: false };
      return { ok: false, ...errorReason(e) };
    }
    try {
      const st = fstatSync(fd);
      if (st.ino !== r.st.ino || st.dev !== r.st.dev) throw new Error("changed while being opened");
      // A component swapped for a link after the walk would be followed by open(2): the descriptor says where it really led.
      if (this.checkOpened) {
        const where = fdPath(fd);
        if (where !== undefined && where !== r.abs) throw new Error("changed while being opened (it led elsewhere)");
      }
      return { ok: true, fd };
    } catch (e) {
      closeSync(fd);
      return { ok: false, reason: (e as Error).message, missing: false };
    }
  }

  private noteCut(source: string, limit: number, unit: InputCut["unit"]): void {
    if (this.cutList.has(source) || this.cutList.size >= MAX_CUTS) return;
    this.cutList.set(source, { source, limit, unit });
  }

  cuts(): readonly InputCut[] {
    return [...this.cutList.values()];
  }

  readBytes(path: string, options: ReadOptions = {}): ReadOutcome<Uint8Array> {
    const source = this.describe(path);
    const max = Math.max(0, options.maxBytes ?? DEFAULT_MAX_BYTES);
    const r = this.walk(path);
    if (!r.ok) return { ok: false, source, reason: r.reason, missing: r.missing };
    // Decided from lstat, before any open: a FIFO would block and a device could act on being opened.
    if (!r.st.isFile()) return { ok: false, source, reason: notRegular(r.st), missing: false };
    const opened = this.openResolved(r);
    if (!opened.ok) return { ok: false, source, reason: opened.reason, missing: opened.missing };
    const fd = opened.fd;
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      let truncated = false;
      // Small reads go through one scratch buffer and are copied out at their exact size: a sysfs file
      // says 4096 bytes and holds a few, and fresh memory is what a read costs most on a virtual
      // machine with shadow paging (a fault per page). A regular file larger than the scratch buffer
      // is read first into a buffer of the size it says, so it is copied once. Either way the end is
      // the read that returns nothing: procfs and sysfs report sizes that are not theirs (0, 4096),
      // and a file may grow while it is read.
      const buf = scratchBuffer();
      if (r.st.size > buf.length && max > 0) {
        const own = new Uint8Array(Math.min(r.st.size, max));
        const n = readSync(fd, own, 0, own.length, null);
        if (n > 0) chunks.push(n === own.length ? own : own.slice(0, n));
        total += n;
      }
      for (;;) {
        const want = Math.min(buf.length, max - total);
        if (want <= 0) {
          truncated = readSync(fd, buf, 0, 1, null) > 0;
          break;
        }
        const n = readSync(fd, buf, 0, want, null);
        if (n === 0) break;
        chunks.push(buf.slice(0, n));
        total += n;
      }
      const value = chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(chunks, total);
      if (!truncated) return { ok: true, value, source, resolved: r.rel };
      this.noteCut(source, max, "bytes");
      return { ok: true, value, source, truncated, resolved: r.rel };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    } finally {
      closeSync(fd);
    }
  }

  readText(path: string, options?: ReadOptions): ReadOutcome<string> {
    const r = this.readBytes(path, options);
    if (!r.ok) return r;
    const { value, ...rest } = r;
    return { ...rest, value: decodeText(value) };
  }

  readAt(path: string, offset: bigint, length: number): ReadOutcome<Uint8Array> {
    const source = this.describe(path);
    const r = this.walk(path);
    if (!r.ok) return { ok: false, source, reason: r.reason, missing: r.missing };
    const device = r.st.isCharacterDevice() && this.live && READABLE_DEVICES.test(r.rel);
    if (!r.st.isFile() && !device) {
      const why = r.st.isCharacterDevice() ? (this.live ? "is a character device other than the cpuid driver's" : "is a character device in a snapshot (a snapshot holds a text dump)") : notRegular(r.st);
      return { ok: false, source, reason: why, missing: false };
    }
    const opened = this.openResolved(r);
    if (!opened.ok) return { ok: false, source, reason: opened.reason, missing: opened.missing };
    try {
      const buf = Buffer.alloc(length);
      const n = readSync(opened.fd, buf, 0, length, offset);
      if (n !== length) return { ok: false, source, reason: `short read: ${n} of ${length} bytes at offset 0x${offset.toString(16)}`, missing: false };
      return { ok: true, value: new Uint8Array(buf), source };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    } finally {
      closeSync(opened.fd);
    }
  }

  list(path: string, options: ListOptions = {}): ReadOutcome<string[]> {
    const source = this.describe(path);
    const max = Math.max(0, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    const r = this.walk(path);
    if (!r.ok) return { ok: false, source, reason: r.reason, missing: r.missing };
    if (!r.st.isDirectory()) return { ok: false, source, reason: `is ${describeFileKind(r.st)}, not a directory`, missing: false };
    const opened = this.openResolved(r);
    if (!opened.ok) return { ok: false, source, reason: opened.reason, missing: opened.missing };
    try {
      // Listing through the descriptor reads the very directory that was checked.
      const where = fdPath(opened.fd) === undefined ? r.abs : `/proc/self/fd/${opened.fd}`;
      const dir = opendirSync(where);
      const names: string[] = [];
      let truncated = false;
      try {
        for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
          if (names.length >= max) {
            truncated = true;
            break;
          }
          names.push(e.name);
        }
      } finally {
        dir.closeSync();
      }
      names.sort();
      if (!truncated) return { ok: true, value: names, source, resolved: r.rel };
      this.noteCut(source, max, "entries");
      return { ok: true, value: names, source, truncated, resolved: r.rel };
    } catch (e) {
      return { ok: false, source, ...errorReason(e) };
    } finally {
      closeSync(opened.fd);
    }
  }

  private cachedLog: ReadOutcome<string> | undefined;

  /** Read once per view: several probes consult the log, and on a live machine it is read from /dev/kmsg (or a `dmesg` run). */
  kernelLog(): ReadOutcome<string> {
    this.cachedLog ??= this.readKernelLog();
    return this.cachedLog;
  }

  private readKernelLog(): ReadOutcome<string> {
    const saved = this.readText("var/log/dmesg");
    if (saved.ok || !this.live) return saved;
    const max = DEFAULT_MAX_BYTES;
    // The ring buffer itself, without a `dmesg` process; only where there is no /dev/kmsg is the command run.
    const ring = readKmsg(max);
    if (ring.ok) {
      if (ring.truncated) this.noteCut(KMSG_PATH, max, "bytes");
      return { ok: true, value: ring.text, source: KMSG_PATH, ...(ring.truncated ? { truncated: true } : {}) };
    }
    if (ring.code !== "ENOENT") {
      const why = ring.code === "EACCES" || ring.code === "EPERM" ? "permission denied (needs root or CAP_SYSLOG)" : ring.message;
      return { ok: false, source: KMSG_PATH, reason: `kernel log unreadable: ${KMSG_PATH}: ${why} (saved log: ${saved.reason})`, missing: false };
    }
    // The cap bounds memory; past it dmesg is stopped and what it wrote so far is used.
    // node:child_process only here, where /dev/kmsg is missing: loading it costs every probe several ms at start-up.
    const { spawnSync } = process.getBuiltinModule("node:child_process");
    const run = spawnSync("dmesg", [], { timeout: 3000, maxBuffer: max, stdio: ["ignore", "pipe", "pipe"] });
    const err = run.error as NodeJS.ErrnoException | undefined;
    const out = run.stdout as Buffer | null;
    if (err?.code === "ENOBUFS" && out && out.length > 0) {
      this.noteCut("dmesg", max, "bytes");
      return { ok: true, value: decodeText(out.subarray(0, max)), source: "dmesg", truncated: true };
    }
    if (!err && run.status === 0 && out) return { ok: true, value: decodeText(out), source: "dmesg" };
    const stderr = (run.stderr as Buffer | null)?.toString("utf8").trim().split("\n")[0];
    const detail = err?.code === "ENOENT" ? "dmesg command not found" : err ? (err.code === "ETIMEDOUT" ? "dmesg did not finish in 3 s" : describeErrno(err)) : stderr || `dmesg exited with status ${run.status ?? run.signal}`;
    return { ok: false, source: "dmesg", reason: `kernel log unreadable: ${detail} (saved log: ${saved.reason})`, missing: false };
  }
}
