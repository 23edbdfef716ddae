import { spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DirectorySystemView } from "../src/index.js";
import { KMSG_PATH, kmsgRecordLine, readKmsg } from "../src/probing/kmsg.js";

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
const KMSG = readable(KMSG_PATH);
const DMESG = spawnSync("dmesg", { encoding: "utf8" }).status === 0;
if (!KMSG) console.log(`kmsg tests on the live ring buffer skipped: ${KMSG_PATH} is not readable here (needs root or CAP_SYSLOG)`);
if (!DMESG) console.log("kmsg vs dmesg comparison skipped: the dmesg command is missing or not allowed here");

describe("/dev/kmsg records printed as dmesg prints them", () => {
  it("timestamps, escapes, continuation lines, dictionary lines", () => {
    expect(kmsgRecordLine("6,339,5140900,-;tsc: Detected 2096.024 MHz processor\n")).toBe("[    5.140900] tsc: Detected 2096.024 MHz processor");
    expect(kmsgRecordLine("4,1,0,-;a\\x5cb \\x09tab\n SUBSYSTEM=cpu\n DEVICE=+cpu:0\n")).toBe("[    0.000000] a\\b \ttab");
    expect(kmsgRecordLine("6,2,123456789012,c;first\\x0asecond\n")).toBe(`[123456.789012] first\n${" ".repeat(16)}second`);
    expect(kmsgRecordLine("garbage")).toBeNull();
    expect(kmsgRecordLine("6,2,notanumber,-;x\n")).toBeNull();
  });

  it("equals the BigInt reference for any header and message (timestamps of any length, leading zeros, odd fields)", () => {
    // The record's line as first written: header split into fields, microseconds through BigInt.
    const reference = (record: string): string | null => {
      const semi = record.indexOf(";");
      if (semi < 0) return null;
      const usec = record.slice(0, semi).split(",")[2];
      if (usec === undefined || !/^\d+$/.test(usec)) return null;
      const nl = record.indexOf("\n", semi);
      const raw = record.slice(semi + 1, nl < 0 ? record.length : nl);
      const message = raw.includes("\\x") ? raw.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))) : raw;
      const us = BigInt(usec);
      const stamp = `[${String(us / 1_000_000n).padStart(5)}.${String(us % 1_000_000n).padStart(6, "0")}] `;
      return stamp + (message.includes("\n") ? message.split("\n").join(`\n${" ".repeat(stamp.length)}`) : message);
    };
    const digits = fc.stringMatching(/^[0-9]{0,30}$/);
    const piece = fc.oneof(digits, fc.constantFrom(",", ";", "\n", "-", "c", "\\x0a", "\\x5c", "x"), fc.string({ maxLength: 8 }));
    const header = fc.tuple(digits, digits, digits, fc.constantFrom("-", "c", "+", "", "-,extra")).map((f) => f.join(","));
    const record = fc.oneof(
      fc.tuple(header, fc.array(piece, { maxLength: 12 })).map(([h, m]) => `${h};${m.join("")}`),
      fc.array(piece, { maxLength: 16 }).map((p) => p.join("")),
    );
    fc.assert(
      fc.property(record, (r) => {
        expect(kmsgRecordLine(r)).toBe(reference(r));
      }),
      { numRuns: 20_000 },
    );
  });

  it.skipIf(!KMSG || !DMESG)("the live ring buffer reads exactly as `dmesg` prints it", () => {
    const k = readKmsg(16 * 1024 * 1024);
    const d = spawnSync("dmesg", { encoding: "utf8" }).stdout;
    expect(k.ok).toBe(true);
    if (!k.ok) return;
    // dmesg ran after: it may have seen newer messages at the end, nothing else differs.
    expect(d.startsWith(k.text)).toBe(true);
    expect(k.text.length).toBeGreaterThan(0);
  });

  it.skipIf(!KMSG)("is bounded: past the cap it stops and says so", () => {
    const k = readKmsg(200);
    expect(k.ok && k.truncated).toBe(true);
    if (k.ok) expect(k.text.length).toBeLessThanOrEqual(200);
  });

  it.skipIf(!KMSG)("a live view reads the kernel log without running dmesg", () => {
    // A `dmesg` first on PATH that leaves a mark: it must never run.
    const dir = mkdtempSync(join(tmpdir(), `kmsg-${process.pid}-`));
    const mark = join(dir, "ran");
    writeFileSync(join(dir, "dmesg"), `#!/bin/sh\ntouch '${mark}'\n`);
    chmodSync(join(dir, "dmesg"), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path ?? ""}`;
    try {
      const log = new DirectorySystemView("/", true).kernelLog();
      expect(log.ok).toBe(true);
      expect(log.source).toBe(KMSG_PATH);
      expect(existsSync(mark)).toBe(false);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
