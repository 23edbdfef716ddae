import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeText, DirectorySystemView, parseKernelLog } from "../src/index.js";

function root(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), "cs-view-"));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

describe("DirectorySystemView", () => {
  it("reads files relative to the root and names them without the root", () => {
    const v = new DirectorySystemView(root({ "proc/cpuinfo": "processor : 0\n" }), false);
    const r = v.readText("proc/cpuinfo");
    expect(r).toEqual({ ok: true, value: "processor : 0\n", source: "proc/cpuinfo" });
    expect(v.describe("/proc/cpuinfo")).toBe("proc/cpuinfo");
  });

  it("explains missing files, directories and paths that escape the root", () => {
    const v = new DirectorySystemView(root({ "sys/x/y": "1" }), false);
    expect(v.readText("nope")).toMatchObject({ ok: false, missing: true, reason: "not present" });
    expect(v.readText("sys/x")).toMatchObject({ ok: false, missing: false, reason: "is a directory" });
    expect(v.readText("../../etc/passwd")).toMatchObject({ ok: false, reason: "path escapes the root" });
    expect(v.list("sys/x")).toMatchObject({ ok: true, value: ["y"] });
  });

  it("refuses to stream devices and stops at the byte limit", () => {
    const dir = root({ big: "x".repeat(1000) });
    symlinkSync("/dev/zero", join(dir, "zero"));
    const v = new DirectorySystemView(dir, false);
    expect(v.readBytes("zero")).toMatchObject({ ok: false, reason: "is a character-device, not a regular file" });
    const r = v.readText("big", { maxBytes: 100 });
    expect(r.ok && r.value.length === 100 && r.truncated).toBe(true);
  });

  it("reports permission problems as such (when not running as root)", () => {
    const dir = root({ secret: "s" });
    chmodSync(join(dir, "secret"), 0o000);
    const r = new DirectorySystemView(dir, false).readText("secret");
    if (process.getuid?.() === 0) expect(r.ok).toBe(true);
    else expect(r).toMatchObject({ ok: false, reason: "permission denied (needs root?)" });
  });

  it("reads a saved kernel log in a snapshot and never runs dmesg there", () => {
    const v = new DirectorySystemView(root({}), false);
    expect(v.kernelLog()).toMatchObject({ ok: false, source: "var/log/dmesg", missing: true });
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

  it("strips timestamps and priorities, keeps 1-based line numbers, handles CR LF", () => {
    const lines = parseKernelLog("<6>[    0.000000] Linux version 6.1\r\n\r\n[   12.5] tsc: Refined TSC clocksource calibration: 2893.202 MHz\nno prefix\n");
    expect(lines).toEqual([
      { lineNumber: 1, message: "Linux version 6.1", uptime: 0 },
      { lineNumber: 3, message: "tsc: Refined TSC clocksource calibration: 2893.202 MHz", uptime: 12.5 },
      { lineNumber: 4, message: "no prefix", uptime: null },
    ]);
  });
});
