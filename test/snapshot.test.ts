import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./support/run-cli.js";

function probe(args: string[]) {
  const r = runCli(["probe", "--json", ...args]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe("clocksource snapshot", () => {
  it("captures this machine so that --sysroot gives the same answers, apart from live-only facts", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cs-snap-")), "machine");
    const r = runCli(["snapshot", dir]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^snapshot written to .*: \d+ files$/m);
    expect(r.stdout).toMatch(/live-only facts a snapshot cannot carry/);
    const manifest = JSON.parse(readFileSync(join(dir, "SNAPSHOT.json"), "utf8"));
    expect(manifest.schema).toBe("clocksource.snapshot/v1");
    expect(manifest.copied).toContain("proc/cpuinfo");

    const live = probe([]);
    const snap = probe(["--sysroot", dir]);
    expect(snap.live).toBe(false);
    expect(snap.arch).toBe(live.arch);
    expect(snap.cpu).toEqual(live.cpu);
    expect(snap.kernelClocksource).toEqual(live.kernelClocksource);
    expect(snap.virtualization.role).toBe(live.virtualization.role);
    expect(snap.virtualization.hypervisor).toBe(live.virtualization.hypervisor);
    if (live.x86) {
      expect(snap.x86?.vendor).toBe(live.x86.vendor);
      expect(snap.x86?.invariantTsc).toBe(live.x86.invariantTsc);
      expect(snap.x86?.tscUnstable).toBe(live.x86.tscUnstable);
    }
    // Fact names learned live are learned from the snapshot too, except the live-only ones.
    // The live-only facts `clocksource snapshot` lists (LIVE_ONLY_FACTS).
    const liveOnly = /^(native\.|x86\.tsc_readable|x86\.tsc_calibration|arm\.counter_readable|paravirt\.(agent|ptp_kvm|virtio_ports))/;
    const snapNames = new Set(snap.facts.filter((f: { confidence: string }) => f.confidence !== "unknown").map((f: { name: string }) => f.name));
    const missing = live.facts
      .filter((f: { name: string; confidence: string; source: string }) => f.confidence !== "unknown" && !liveOnly.test(f.name) && !f.source.startsWith("uname"))
      .map((f: { name: string }) => f.name)
      .filter((n: string) => !snapNames.has(n));
    expect(missing).toEqual([]);
  });

  it("copies nothing but probe inputs", () => {
    const from = mkdtempSync(join(tmpdir(), "cs-from-"));
    for (const [p, c] of Object.entries({
      "proc/cpuinfo": "vendor_id : GenuineIntel\nflags : fpu lm\n",
      "proc/self/environ": "SECRET=1",
      "sys/class/dmi/id/sys_vendor": "QEMU\n",
      "sys/class/dmi/id/product_serial": "SN-123",
      "sys/firmware/devicetree/base/timer/compatible": "arm,armv8-timer\0",
      "etc/shadow": "root:x",
    })) {
      mkdirSync(join(from, p, ".."), { recursive: true });
      writeFileSync(join(from, p), c);
    }
    const dir = join(mkdtempSync(join(tmpdir(), "cs-snap-")), "out");
    const r = runCli(["snapshot", dir, "--from", from]);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, "proc/cpuinfo"))).toBe(true);
    expect(existsSync(join(dir, "sys/class/dmi/id/sys_vendor"))).toBe(true);
    expect(readFileSync(join(dir, "sys/firmware/devicetree/base/timer/compatible"), "utf8")).toBe("arm,armv8-timer\0");
    for (const secret of ["proc/self/environ", "sys/class/dmi/id/product_serial", "etc/shadow"]) expect(existsSync(join(dir, secret))).toBe(false);
  });

  it("refuses a non-empty directory without --force, and bad arguments, with one line and exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "cs-snap-"));
    writeFileSync(join(dir, "keep"), "x");
    const r = runCli(["snapshot", dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^clocksource: snapshot: .* exists and is not empty \(use --force to replace it\)\n$/);
    expect(readFileSync(join(dir, "keep"), "utf8")).toBe("x");
    expect(runCli(["snapshot"]).status).toBe(2);
    expect(runCli(["snapshot", "/nonexistent-parent/x"]).stderr).toMatch(/does not exist/);
  });
});
