import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isLiveOnlyFact, LIVE_ONLY_INPUTS } from "../packages/cli/src/snapshot-plan.js";
import { runCli, type CliRun } from "./support/run-cli.js";
import { runCliAsNobody, UNPRIVILEGED_SKIP } from "./support/unprivileged.js";
import { scratchDirs } from "./support/hostile-tree.js";

const tempDir = scratchDirs();

type Runner = (args: string[]) => CliRun;

function probe(run: Runner, args: string[]) {
  const r = run(["probe", "--json", ...args]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

interface ReportFact {
  readonly name: string;
  readonly source: string;
  readonly confidence: string;
}

/** Snapshots this machine with `run`, probes it live and from the snapshot, and compares. */
function snapshotMatchesLive(run: Runner): void {
  const parent = tempDir("cs-snap-");
  chmodSync(parent, 0o777); // the unprivileged run writes here too
  const dir = join(parent, "machine");
  const r = run(["snapshot", dir]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^snapshot written to .*: \d+ files$/m);
  expect(r.stdout).toMatch(/live-only facts a snapshot cannot carry/);
  const manifest = JSON.parse(readFileSync(join(dir, "SNAPSHOT.json"), "utf8"));
  expect(manifest.schema).toBe("clocksource.snapshot/v1");
  expect(manifest.copied).toContain("proc/cpuinfo");
  // The manifest carries the very list this test filters with.
  expect(manifest.liveOnly).toEqual(LIVE_ONLY_INPUTS);

  const live = probe(run, []);
  const snap = probe(run, ["--sysroot", dir]);
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
  // Fact names learned live are learned from the snapshot too, except the live-only
  // ones — as `clocksource snapshot` itself defines them (isLiveOnlyFact), so the
  // list cannot drift from the code (a KVM host with VMs adds virt.kvm_vms, a
  // machine without /dev/kvm learns virt.kvm_host = false only live).
  const known = (facts: ReportFact[]) => facts.filter((f) => f.confidence !== "unknown");
  const snapNames = new Set(known(snap.facts).map((f) => f.name));
  const missing = known(live.facts)
    .filter((f) => !isLiveOnlyFact(f))
    .map((f) => `${f.name} (${f.source})`)
    .filter((n) => !snapNames.has(n.slice(0, n.indexOf(" "))));
  expect(missing).toEqual([]);
}

if (UNPRIVILEGED_SKIP) console.warn(UNPRIVILEGED_SKIP);

describe("clocksource snapshot", () => {
  it(`captures this machine so that --sysroot gives the same answers, apart from live-only facts (as ${process.getuid?.() === 0 ? "root" : "this user"})`, () => {
    snapshotMatchesLive((args) => runCli(args));
  });

  it.skipIf(UNPRIVILEGED_SKIP !== null)("captures this machine the same way as nobody (setpriv), where the kernel log and CPUID are closed", () => {
    snapshotMatchesLive((args) => runCliAsNobody(args));
  });

  it("copies nothing but probe inputs", () => {
    const from = tempDir("cs-from-");
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
    const dir = join(tempDir("cs-snap-"), "out");
    const r = runCli(["snapshot", dir, "--from", from]);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, "proc/cpuinfo"))).toBe(true);
    expect(existsSync(join(dir, "sys/class/dmi/id/sys_vendor"))).toBe(true);
    expect(readFileSync(join(dir, "sys/firmware/devicetree/base/timer/compatible"), "utf8")).toBe("arm,armv8-timer\0");
    for (const secret of ["proc/self/environ", "sys/class/dmi/id/product_serial", "etc/shadow"]) expect(existsSync(join(dir, secret))).toBe(false);
  });

  it("refuses a non-empty directory without --force, and bad arguments, with one line and exit 2", () => {
    const dir = tempDir("cs-snap-");
    writeFileSync(join(dir, "keep"), "x");
    const r = runCli(["snapshot", dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^clocksource: snapshot: .* exists and is not empty \(use --force to replace it\)\n$/);
    expect(readFileSync(join(dir, "keep"), "utf8")).toBe("x");
    expect(runCli(["snapshot"]).status).toBe(2);
    expect(runCli(["snapshot", "/nonexistent-parent/x"]).stderr).toMatch(/does not exist/);
  });
});
