/**
 * readUserFile / writeUserFile on real filesystem objects: FIFOs made with
 * mkfifo, a bound Unix socket, /dev/zero, /dev/null, symlinks, a sparse 8 GiB
 * file, a full tmpfs. Each case has its own time limit; the FIFO cases also
 * run a watchdog that would UNBLOCK a reader or writer stuck on the FIFO, so a
 * regression that blocks fails on its result instead of stalling the run.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planUserFileWrite, readUserFile, readUserFileAsync, writeUserFile, writeUserFileSync } from "../src/index.js";

const LIMIT = { timeout: 15_000 };
const tmp = mkdtempSync(join(tmpdir(), `core-user-files-${process.pid}-`));
const isRoot = process.geteuid?.() === 0;
const haveMkfifo = spawnSync("mkfifo", ["--version"]).status === 0;
if (!haveMkfifo) console.warn("skipping FIFO cases: mkfifo is not installed");
if (isRoot) console.warn("skipping the unreadable-file case: running as root, every file is readable");
else console.warn("skipping the protected-symlink and full-filesystem cases: they need root (lchown, mount)");
let seq = 0;
const fresh = (name: string) => join(tmp, `${seq++}-${name}`);

let server: Server | undefined;
const socketPath = join(tmp, "sock");
beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

function mkfifo(): string {
  const p = fresh("fifo");
  const r = spawnSync("mkfifo", [p]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
  return p;
}

/**
 * After 3 s, opens the FIFO from the other end (as reader and as writer, each
 * in its own process) and passes a few bytes, which releases anything blocked
 * on it. The code under test must have answered long before.
 */
function watchdog(fifo: string): ChildProcess[] {
  const opts = { stdio: "ignore" as const, detached: false };
  return [
    spawn("sh", ["-c", 'sleep 3; printf unblocked > "$0"', fifo], opts),
    spawn("sh", ["-c", 'sleep 3; cat "$0" > /dev/null', fifo], opts),
  ];
}
function stop(children: ChildProcess[]): void {
  for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill("SIGKILL");
}

function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.endsWith(".tmp"));

describe("readUserFile", () => {
  const opts = { maxBytes: 1024, what: "token file" };

  it("reads a regular file, and one of exactly maxBytes", LIMIT, async () => {
    const p = fresh("ok");
    writeFileSync(p, "x".repeat(1024));
    expect(readUserFile(p, opts).length).toBe(1024);
    expect((await readUserFileAsync(p, opts)).length).toBe(1024);
  });

  it("refuses maxBytes + 1 without reading on", LIMIT, async () => {
    const p = fresh("big");
    writeFileSync(p, "x".repeat(1025));
    expect(() => readUserFile(p, opts)).toThrow(`token file ${p} is larger than 1024 bytes`);
    await expect(readUserFileAsync(p, opts)).rejects.toThrow(/is larger than 1024 bytes/);
  });

  it("stops at maxBytes + 1 on a file whose size says 0 (procfs)", LIMIT, async () => {
    expect(statSync("/proc/self/maps").size).toBe(0);
    expect(() => readUserFile("/proc/self/maps", { maxBytes: 16, what: "f" })).toThrow(/larger than 16 bytes/);
    await expect(readUserFileAsync("/proc/self/maps", { maxBytes: 16, what: "f" })).rejects.toThrow(/larger than 16 bytes/);
  });

  it("a sparse 8 GiB file is refused by its size at once", LIMIT, async () => {
    const p = fresh("sparse");
    writeFileSync(p, "");
    truncateSync(p, 8 * 1024 ** 3);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => readUserFile(p, opts)).toThrow(/is larger than 1024 bytes/);
    await expect(readUserFileAsync(p, opts)).rejects.toThrow(/is larger than 1024 bytes/);
    // nothing of the file was buffered (a generous margin: other tests' buffers may still be live)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it.skipIf(!haveMkfifo)("a FIFO is one line, never a hang (sync and async)", LIMIT, async () => {
    const fifo = mkfifo();
    const dog = watchdog(fifo);
    try {
      expect(() => readUserFile(fifo, opts)).toThrow(`token file ${fifo} is a FIFO, not a regular file`);
      await expect(readUserFileAsync(fifo, opts)).rejects.toThrow(`token file ${fifo} is a FIFO, not a regular file`);
    } finally {
      stop(dog);
    }
  });

  it.skipIf(!haveMkfifo)("a symlink to a FIFO is followed and refused", LIMIT, () => {
    const fifo = mkfifo();
    const link = fresh("link-to-fifo");
    symlinkSync(fifo, link);
    const dog = watchdog(fifo);
    try {
      expect(() => readUserFile(link, opts)).toThrow(`token file ${link} is a FIFO, not a regular file`);
    } finally {
      stop(dog);
    }
  });

  it("/dev/zero, /dev/null, a socket and a directory are refused", LIMIT, async () => {
    expect(() => readUserFile("/dev/zero", opts)).toThrow("token file /dev/zero is a character device, not a regular file");
    expect(() => readUserFile("/dev/null", opts)).toThrow("token file /dev/null is a character device, not a regular file");
    expect(() => readUserFile(socketPath, opts)).toThrow(`token file ${socketPath} is a socket, not a regular file`);
    expect(() => readUserFile(tmp, opts)).toThrow(`token file ${tmp} is a directory, not a regular file`);
    await expect(readUserFileAsync("/dev/zero", opts)).rejects.toThrow(/is a character device/);
  });

  it("a symlink to a regular file is followed; a dangling one is 'not present'", LIMIT, () => {
    const target = fresh("target");
    writeFileSync(target, "secret");
    const link = fresh("link");
    symlinkSync(target, link);
    expect(readUserFile(link, opts).toString()).toBe("secret");
    const dangling = fresh("dangling");
    symlinkSync(join(tmp, "nothing-here"), dangling);
    expect(() => readUserFile(dangling, opts)).toThrow(`cannot read token file ${dangling}: not present`);
  });

  it("errors are ClocksourceError IO_ERROR, one line", LIMIT, () => {
    try {
      readUserFile(join(tmp, "missing"), opts);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe("IO_ERROR");
      expect((e as Error).message).not.toContain("\n");
    }
  });

  it.skipIf(isRoot)("a file without read permission (as a normal user)", LIMIT, () => {
    const p = fresh("noread");
    writeFileSync(p, "x");
    chmodSync(p, 0o000);
    expect(() => readUserFile(p, opts)).toThrow(/permission denied/);
  });
});

describe("writeUserFile", () => {
  it("'-' and /dev/stdout go to the stdout stream; /dev/stdout stays a link", LIMIT, async () => {
    const before = lstatSync("/dev/stdout");
    for (const name of ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]) {
      const out = collector();
      await writeUserFile(name, `to ${name}\n`, { stdout: out.stream });
      expect(out.text()).toBe(`to ${name}\n`);
      const outSync = collector();
      writeUserFileSync(name, "sync\n", { stdout: outSync.stream });
      expect(outSync.text()).toBe("sync\n");
    }
    const after = lstatSync("/dev/stdout");
    expect(after.isSymbolicLink()).toBe(true);
    expect(after.ino).toBe(before.ino);
    const err = collector();
    await writeUserFile("/dev/stderr", "e", { stderr: err.stream });
    expect(err.text()).toBe("e");
  });

  it("/dev/null is written in place and stays the same character device", LIMIT, async () => {
    const before = lstatSync("/dev/null");
    await writeUserFile("/dev/null", "discard me\n");
    writeUserFileSync("/dev/null", "discard me too\n");
    const after = lstatSync("/dev/null");
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.ino, after.rdev, after.mode]).toEqual([before.ino, before.rdev, before.mode]);
    expect(leftovers("/dev")).toEqual([]);
  });

  it("/dev/zero and other character devices are refused and left alone", LIMIT, async () => {
    const before = lstatSync("/dev/zero");
    await expect(writeUserFile("/dev/zero", "x")).rejects.toThrow(
      "refusing to write output file /dev/zero: it is a character device (only /dev/null and terminals are written to in place)",
    );
    expect(() => writeUserFileSync("/dev/full", "x", { what: "plot" })).toThrow(/refusing to write plot \/dev\/full: it is a character device/);
    expect(lstatSync("/dev/zero").ino).toBe(before.ino);
    expect(lstatSync("/dev/zero").isCharacterDevice()).toBe(true);
    expect(leftovers("/dev")).toEqual([]);
  });

  it("/dev/ptmx is refused (opening it would create a terminal)", LIMIT, () => {
    expect(() => planUserFileWrite("/dev/ptmx")).toThrow(/is a character device/);
  });

  it.skipIf(!haveMkfifo)("a FIFO is refused at once, never opened, never replaced", LIMIT, async () => {
    const fifo = mkfifo();
    const dog = watchdog(fifo);
    try {
      await expect(writeUserFile(fifo, "x", { what: "mapping file" })).rejects.toThrow(`refusing to write mapping file ${fifo}: it is a FIFO, not a regular file`);
      expect(() => writeUserFileSync(fifo, "x")).toThrow(/it is a FIFO/);
    } finally {
      stop(dog);
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(leftovers(tmp)).toEqual([]);
  });

  it("a socket and a directory are refused and left as they were", LIMIT, async () => {
    await expect(writeUserFile(socketPath, "x")).rejects.toThrow(/it is a socket, not a regular file/);
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    const dir = fresh("dir");
    mkdirSync(dir);
    await expect(writeUserFile(dir, "x")).rejects.toThrow(/it is a directory, not a regular file/);
    expect(lstatSync(dir).isDirectory()).toBe(true);
  });

  it("a new file is created; an existing one replaced atomically, keeping its mode; no temp file left", LIMIT, async () => {
    const dir = fresh("out");
    mkdirSync(dir);
    const p = join(dir, "m.json");
    await writeUserFile(p, "one\n");
    expect(readFileSync(p, "utf8")).toBe("one\n");
    chmodSync(p, 0o600);
    const ino = statSync(p).ino;
    writeUserFileSync(p, new TextEncoder().encode("two\n"));
    expect(readFileSync(p, "utf8")).toBe("two\n");
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(statSync(p).ino).not.toBe(ino); // replaced by rename, not rewritten in place
    expect(readdirSync(dir)).toEqual(["m.json"]);
  });

  it("a symlink is followed: the link stays, its target is replaced", LIMIT, async () => {
    const dir = fresh("links");
    mkdirSync(dir);
    writeFileSync(join(dir, "real.json"), "old\n");
    symlinkSync("real.json", join(dir, "current.json"));
    await writeUserFile(join(dir, "current.json"), "new\n");
    expect(lstatSync(join(dir, "current.json")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, "real.json"), "utf8")).toBe("new\n");
    expect(readdirSync(dir).sort()).toEqual(["current.json", "real.json"]);
  });

  it("a symlink to /dev/null writes to the device; to /dev/zero is refused naming both", LIMIT, async () => {
    const toNull = fresh("to-null");
    symlinkSync("/dev/null", toNull);
    await writeUserFile(toNull, "x");
    expect(lstatSync(toNull).isSymbolicLink()).toBe(true);
    expect(lstatSync("/dev/null").isCharacterDevice()).toBe(true);
    const toZero = fresh("to-zero");
    symlinkSync("/dev/zero", toZero);
    await expect(writeUserFile(toZero, "x")).rejects.toThrow(`refusing to write output file ${toZero} (a link to /dev/zero): it is a character device`);
  });

  it("a dangling symlink or a loop is refused and nothing is created", LIMIT, async () => {
    const dir = fresh("dangling");
    mkdirSync(dir);
    symlinkSync(join(dir, "nowhere"), join(dir, "link"));
    symlinkSync("loop", join(dir, "loop"));
    await expect(writeUserFile(join(dir, "link"), "x")).rejects.toThrow(/is a symbolic link that leads nowhere \(dangling\)/);
    await expect(writeUserFile(join(dir, "loop"), "x")).rejects.toThrow(/leads nowhere \(a loop\)/);
    expect(readdirSync(dir).sort()).toEqual(["link", "loop"]);
  });

  it.skipIf(!isRoot)("a link owned by another user in a sticky world-writable directory is refused (protected_symlinks)", LIMIT, async () => {
    const shared = fresh("sticky");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const victim = fresh("victim");
    writeFileSync(victim, "keep\n");
    const link = join(shared, "out.json");
    symlinkSync(victim, link);
    lchownSync(link, 65534, 65534);
    await expect(writeUserFile(link, "owned\n")).rejects.toThrow(/symbolic link owned by another user \(uid 65534\)/);
    expect(readFileSync(victim, "utf8")).toBe("keep\n");
  });

  it("a missing directory is one line naming the file", LIMIT, async () => {
    const p = join(tmp, "no-such-dir", "x.json");
    await expect(writeUserFile(p, "x", { what: "plot" })).rejects.toThrow(`cannot write plot ${p}: its directory does not exist`);
  });

  it.skipIf(!isRoot)("a failed write (full filesystem) removes the temp file and keeps the old content", LIMIT, async () => {
    const mnt = fresh("tmpfs");
    mkdirSync(mnt);
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt]);
    if (m.status !== 0) {
      console.warn(`skipping the full-filesystem case: mount tmpfs failed: ${m.stderr}`);
      return;
    }
    try {
      const p = join(mnt, "m.json");
      writeFileSync(p, "old\n");
      await expect(writeUserFile(p, "y".repeat(64 * 1024))).rejects.toThrow(`cannot write output file ${p}: no space left on device`);
      expect(() => writeUserFileSync(p, "y".repeat(64 * 1024))).toThrow(/no space left on device/);
      expect(readFileSync(p, "utf8")).toBe("old\n");
      expect(readdirSync(mnt)).toEqual(["m.json"]);
    } finally {
      spawnSync("umount", [mnt]);
    }
  });

  it("a stream that fails reports one line", LIMIT, async () => {
    const broken = new PassThrough();
    broken.destroy();
    await expect(writeUserFile("-", "x", { stdout: broken })).rejects.toThrow(/cannot write output file to standard output/);
  });

  it("an empty path is an argument error", () => {
    expect(() => planUserFileWrite("")).toThrow(/empty path/);
  });
});

// Nothing above may leave a descriptor open on the files it made.
it("no descriptor is left open on files under the test directory", () => {
  const targets = readdirSync("/proc/self/fd").map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return "";
    }
  });
  expect(targets.filter((t) => t.startsWith(tmp) && !t.endsWith("sock"))).toEqual([]);
});
