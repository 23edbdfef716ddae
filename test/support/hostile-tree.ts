/**
 * Test support: building directory trees that a sysroot or snapshot source
 * should survive — files, links (in and out of the root), FIFOs and device
 * nodes — in temporary directories removed after the file's tests.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/**
 * A maker of temporary directories, all removed after the calling test file
 * (made writable first: a test may take permissions away). Call it at the
 * top level of the test file.
 */
export function scratchDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) {
      spawnSync("chmod", ["-R", "u+rwx", dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** Writes `root/path`, making its directories. */
export function put(root: string, path: string, content: string | Buffer): void {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** Makes `root/path` a symbolic link to `target`, making its directories. */
export function link(root: string, path: string, target: string): void {
  mkdirSync(join(root, path, ".."), { recursive: true });
  symlinkSync(target, join(root, path));
}

/** Makes a FIFO at `path` (its directories too). @throws when mkfifo fails */
export function mkfifo(path: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const r = spawnSync("mkfifo", [path], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr}`);
}

/** Makes a character device node at `path` (root only). @throws when mknod fails */
export function mknodChar(path: string, major: number, minor: number): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const r = spawnSync("mknod", [path, "c", String(major), String(minor)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mknod ${path}: ${r.stderr}`);
}
