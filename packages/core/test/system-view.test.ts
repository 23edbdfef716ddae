import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { link, mkfifo, mknodChar, put, scratchDirs } from "../../../test/support/hostile-tree.js";
import { CapabilityProber, createClockContainer, decodeText, DirectorySystemView, kernelLogLines, parseKernelLog } from "../src/index.js";

const tempDir = scratchDirs();

function root(files: Record<string, string | Buffer>): string {
  const dir = tempDir("cs-view-");
  for (const [p, content] of Object.entries(files)) put(dir, p, content);
  return dir;
}

const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn("skipping the device-node cases of the system view: mknod needs root");

/** A file outside every root the tests make, holding a string no root holds. */
function outsideSecret(): { dir: string; file: string; text: string } {
  const dir = tempDir("cs-outside-");
  const text = `SECRET-${process.pid}-outside-the-root`;
  writeFileSync(join(dir, "secret"), text);
  return { dir, file: join(dir, "secret"), text };
}

/**
 * Opens `fifo` for writing from a child process after a pause and writes a
 * line: a reader that blocked on the FIFO is released (and then fails its
 * test by having read something) instead of stalling the run. Kill it after.
 */
function fifoWatchdog(fifo: string): ChildProcess {
  return spawn("sh", ["-c", 'sleep 5; printf "released by the watchdog\\n" > "$1"', "sh", fifo], { stdio: "ignore" });
}


describe("DirectorySystemView", () => {
  it("reads files relative to the root and names them without the root", () => {
    const v = new DirectorySystemView(root({ "proc/cpuinfo": "processor : 0\n" }), false);
    expect(v.readText("proc/cpuinfo")).toEqual({ ok: true, value: "processor : 0\n", source: "proc/cpuinfo", resolved: "proc/cpuinfo" });
    expect(v.describe("/proc/cpuinfo")).toBe("proc/cpuinfo");
  });

  it("explains missing files and directories, and keeps .. at the root", () => {
    const dir = root({ "sys/x/y": "1", "etc/passwd": "the root's own passwd" });
    const v = new DirectorySystemView(dir, false);
    expect(v.readText("nope")).toMatchObject({ ok: false, missing: true, reason: "not present" });
    expect(v.readText("sys/x")).toMatchObject({ ok: false, missing: false, reason: "is a directory" });
    expect(v.readText("sys/x/y/z")).toMatchObject({ ok: false, missing: true });
    // As in a chroot: `..` of the root is the root.
    expect(v.readText("../../etc/passwd")).toMatchObject({ ok: true, value: "the root's own passwd", resolved: "etc/passwd" });
    expect(v.readText("sys/../../../../etc/passwd")).toMatchObject({ ok: true, value: "the root's own passwd" });
    expect(v.list("sys/x")).toMatchObject({ ok: true, value: ["y"] });
    expect(v.list("sys/x/y")).toMatchObject({ ok: false, reason: "is a regular file, not a directory" });
  });

  it("takes an absolute link target relative to the root, and never reads through a link to a file outside it", () => {
    const secret = outsideSecret();
    const dir = root({ "etc/shadow": "the root's own shadow" });
    link(dir, "proc/cpuinfo", secret.file); // absolute: looked up as <root><file>
    link(dir, "proc/abs-in-root", "/etc/shadow");
    link(dir, "proc/climb", `../../../../../../../../../..${secret.file}`); // relative, climbing
    link(dir, "proc/dir", secret.dir); // a directory outside
    link(dir, "sys/up", "../.."); // `..` through a link stops at the root
    const v = new DirectorySystemView(dir, false);
    for (const path of ["proc/cpuinfo", "proc/climb", "proc/dir/secret", "sys/up/../../" + secret.file]) {
      const r = v.readText(path);
      expect(r.ok, path).toBe(false);
      expect(JSON.stringify(r)).not.toContain(secret.text);
      expect(r).toMatchObject({ missing: true });
    }
    expect(v.readText("proc/cpuinfo")).toMatchObject({ reason: expect.stringMatching(/symbolic link proc\/cpuinfo -> .* leads nowhere inside the root/) });
    expect(v.readText("proc/abs-in-root")).toMatchObject({ ok: true, value: "the root's own shadow", resolved: "etc/shadow" });
    expect(v.readText("sys/up/etc/shadow")).toMatchObject({ ok: true, resolved: "etc/shadow" });
    expect(v.list("proc/dir")).toMatchObject({ ok: false, missing: true });
    expect(v.kind("proc/dir")).toMatchObject({ ok: false, missing: true });
    expect(v.kind("proc/abs-in-root")).toMatchObject({ ok: true, value: "file", resolved: "etc/shadow" });
  });

  it("reports link loops with a reason (read, kind, list), also through directories", () => {
    const dir = root({});
    link(dir, "a", "b");
    link(dir, "b", "a");
    link(dir, "self", "self");
    link(dir, "abs", "/abs");
    link(dir, "d/here", ".");
    link(dir, "d/up", "../d/up");
    const v = new DirectorySystemView(dir, false);
    for (const path of ["a", "self", "abs", "d/up"]) {
      expect(v.readText(path), path).toMatchObject({ ok: false, missing: false, reason: expect.stringMatching(/link loop/) });
      expect(v.kind(path), path).toMatchObject({ ok: false, reason: expect.stringMatching(/link loop/) });
      expect(v.list(path), path).toMatchObject({ ok: false, reason: expect.stringMatching(/link loop/) });
    }
    // 41 links on one path is a loop even when each step goes somewhere.
    expect(v.kind(`d/${"here/".repeat(41)}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/link loop/) });
    expect(v.kind(`d/${"here/".repeat(39)}`)).toMatchObject({ ok: true, value: "directory", resolved: "d" });
  });

  it("never opens a FIFO (no hang), and says what it is", () => {
    const dir = root({});
    mkfifo(join(dir, "proc/cpuinfo"));
    mkfifo(join(dir, "var/log/dmesg"));
    const watchdogs = [fifoWatchdog(join(dir, "proc/cpuinfo")), fifoWatchdog(join(dir, "var/log/dmesg"))];
    try {
      const v = new DirectorySystemView(dir, false);
      expect(v.readText("proc/cpuinfo")).toMatchObject({ ok: false, missing: false, reason: "is a FIFO, not a regular file" });
      expect(v.readAt("proc/cpuinfo", 0n, 16)).toMatchObject({ ok: false, reason: "is a FIFO, not a regular file" });
      expect(v.kernelLog()).toMatchObject({ ok: false, source: "var/log/dmesg", reason: "is a FIFO, not a regular file" });
      expect(v.kind("proc/cpuinfo")).toMatchObject({ ok: true, value: "fifo" });
    } finally {
      for (const w of watchdogs) w.kill("SIGKILL");
    }
  });

  it("stops at the byte limit and remembers the cut, once per input", () => {
    const dir = root({ big: "x".repeat(1000), small: "y" });
    const v = new DirectorySystemView(dir, false);
    const r = v.readText("big", { maxBytes: 100 });
    expect(r).toMatchObject({ ok: true, truncated: true });
    expect(r.ok && r.value.length).toBe(100);
    v.readText("big", { maxBytes: 100 });
    expect(v.readText("small", { maxBytes: 1 })).toMatchObject({ ok: true, value: "y" });
    expect(v.readText("big", { maxBytes: 1000 })).not.toHaveProperty("truncated");
    expect(v.cuts()).toEqual([{ source: "big", limit: 100, unit: "bytes" }]);
  });

  it("reads every byte of files of every size around its buffer's, each value an array of its own", () => {
    const sizes = [0, 1, 2, 4095, 4096, 4097, 65535, 65536, 65537, 3 * 65536 + 5];
    const files: Record<string, Buffer> = {};
    for (const n of sizes) files[`f${n}`] = Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff));
    const v = new DirectorySystemView(root(files), false);
    const seen: Uint8Array[] = [];
    for (const n of sizes) {
      const want = files[`f${n}`] as Buffer;
      const r = v.readBytes(`f${n}`);
      if (!r.ok) throw new Error(r.reason);
      expect(Buffer.from(r.value).equals(want), `f${n}`).toBe(true);
      expect(r).not.toHaveProperty("truncated");
      // Not a view of a shared buffer: the next read must not change it.
      expect([r.value.byteOffset, r.value.buffer.byteLength]).toEqual([0, n]);
      seen.push(r.value);
      for (const max of [0, 1, n - 1, 65536, 65537].filter((m) => m >= 0 && m < n)) {
        const cut = v.readBytes(`f${n}`, { maxBytes: max });
        if (!cut.ok) throw new Error(cut.reason);
        expect(Buffer.from(cut.value).equals(want.subarray(0, max)), `f${n} cut at ${max}`).toBe(true);
        expect(cut.truncated).toBe(true);
      }
    }
    sizes.forEach((n, i) => expect(Buffer.from(seen[i] as Uint8Array).equals(files[`f${n}`] as Buffer)).toBe(true));
  });

  it("caps directory listings and remembers that cut too", () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++) files[`many/f${i}`] = "";
    const v = new DirectorySystemView(root(files), false);
    const r = v.list("many", { maxEntries: 10 });
    expect(r).toMatchObject({ ok: true, truncated: true });
    expect(r.ok && r.value.length).toBe(10);
    expect(v.cuts()).toEqual([{ source: "many", limit: 10, unit: "entries" }]);
  });

  it("makes a cut input an input.truncated fact naming the input and the cap", () => {
    const dir = root({ "proc/cpuinfo": "processor : 0\n", "var/log/dmesg": `[    0.000000] Linux version 6.1\n${"[    1.000000] filler\n".repeat(2000)}` });
    const view = new DirectorySystemView(dir, false);
    // The probes read the log with the default cap; a smaller read of it cuts it.
    view.readText("var/log/dmesg", { maxBytes: 1000 });
    const facts = createClockContainer({ view, env: {} }).resolve(CapabilityProber).run();
    expect(facts.named("input.truncated")).toEqual([
      { name: "input.truncated", value: true, source: "var/log/dmesg", confidence: "definitive", reason: "read only the first 1000 bytes: facts from what follows are missing" },
    ]);
  });

  it.skipIf(!IS_ROOT)("never opens a device in a snapshot; a live view preads only the cpuid device", () => {
    const dir = root({});
    mknodChar(join(dir, "dev/cpu/0/cpuid"), 1, 5); // /dev/zero's numbers: reads would succeed
    mknodChar(join(dir, "dev/zero"), 1, 5);
    mknodChar(join(dir, "proc/cpuinfo"), 1, 5);
    const snap = new DirectorySystemView(dir, false);
    expect(snap.readBytes("proc/cpuinfo")).toMatchObject({ ok: false, reason: "is a character device, not a regular file" });
    expect(snap.readAt("dev/cpu/0/cpuid", 0n, 16)).toMatchObject({ ok: false, reason: expect.stringMatching(/character device in a snapshot/) });
    expect(snap.kind("dev/cpu/0/cpuid")).toMatchObject({ ok: true, value: "character-device" });
    const live = new DirectorySystemView(dir, true);
    expect(live.readAt("dev/cpu/0/cpuid", 0n, 16)).toMatchObject({ ok: true, value: new Uint8Array(16) });
    expect(live.readAt("dev/zero", 0n, 16)).toMatchObject({ ok: false, reason: expect.stringMatching(/other than the cpuid/) });
    expect(live.readBytes("dev/cpu/0/cpuid")).toMatchObject({ ok: false, reason: "is a character device, not a regular file" });
  });

  it("reports permission problems as such (when not running as root)", () => {
    const dir = root({ secret: "s" });
    chmodSync(join(dir, "secret"), 0o000);
    const r = new DirectorySystemView(dir, false).readText("secret");
    if (IS_ROOT) expect(r.ok).toBe(true);
    else expect(r).toMatchObject({ ok: false, reason: "permission denied (needs root?)" });
  });

  it("reads a saved kernel log in a snapshot and never runs dmesg there", () => {
    const v = new DirectorySystemView(root({}), false);
    expect(v.kernelLog()).toMatchObject({ ok: false, source: "var/log/dmesg", missing: true });
  });

  it("reads through a root that is a magic link, such as a container's /proc/PID/root", () => {
    const dir = root({ "etc/marker": "through the magic link" });
    const v = new DirectorySystemView("/proc/self/root", false);
    expect(v.readText(`${dir}/etc/marker`)).toMatchObject({ ok: true, value: "through the magic link" });
    expect(v.list(dir)).toMatchObject({ ok: true, value: ["etc"] });
  });

  it("rejects a sysroot that is not a directory with a typed error", () => {
    const dir = root({ file: "x" });
    expect(() => DirectorySystemView.open(join(dir, "file"))).toThrow(/not a directory/);
    expect(() => DirectorySystemView.open(join(dir, "missing"))).toThrow(/not present/);
  });
});

describe("text decoding and kernel log lines", () => {
  it("decodes UTF-16 with a BOM and tolerates invalid UTF-8", () => {
    expect(decodeText(Buffer.from("\ufefftsc", "utf16le"))).toBe("tsc");
    expect(decodeText(new Uint8Array([0x74, 0xff, 0x73]))).toBe("t\ufffds");
  });

  it("strips the caller tags of vendor kernels", () => {
    const msgs = parseKernelLog(
      "[    1.080811]  [7:      swapper/0:    1] Switched to clocksource arch_sys_counter\n" +
        "[    0.308459]  (4)[1:swapper/0]clocksource: Switched to clocksource arch_sys_counter\n" +
        "[    6.044067s][pid:1,cpu4,swapper/0]Switched to clocksource arch_sys_counter\n",
    ).map((l) => l.message);
    expect(msgs).toEqual(["Switched to clocksource arch_sys_counter", "clocksource: Switched to clocksource arch_sys_counter", "Switched to clocksource arch_sys_counter"]);
  });

  it("strips timestamps and priorities, keeps 1-based line numbers, handles CR LF and lone CR", () => {
    const lines = parseKernelLog("<6>[    0.000000] Linux version 6.1\r\n\r\n[   12.5] tsc: Refined TSC clocksource calibration: 2893.202 MHz\nno prefix\rafter a CR\n");
    expect(lines).toEqual([
      { lineNumber: 1, message: "Linux version 6.1", uptime: 0 },
      { lineNumber: 3, message: "tsc: Refined TSC clocksource calibration: 2893.202 MHz", uptime: 12.5 },
      { lineNumber: 4, message: "no prefix", uptime: null },
      { lineNumber: 5, message: "after a CR", uptime: null },
    ]);
  });

  it("numbers lines as splitting on LF, CR LF or CR does, lazily", () => {
    for (const text of ["", "\n", "a", "a\n", "\r\n\r\nb", "a\r\r\nb\n\rc", "x\n\n\n"]) {
      const expected = text
        .split(/\r?\n|\r/)
        .map((raw, i) => ({ raw, lineNumber: i + 1 }))
        .filter((l) => l.raw.length > 0)
        .map((l) => l.lineNumber);
      expect([...kernelLogLines(text)].map((l) => l.lineNumber), JSON.stringify(text)).toEqual(expected);
    }
    const lines = kernelLogLines("\n".repeat(1000) + "late line");
    expect(lines.next().value).toMatchObject({ lineNumber: 1001, message: "late line" });
  });
});
