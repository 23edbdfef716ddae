import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildProbeReport, ClockSelector, createClockContainer, DirectorySystemView } from "@clocksource/core";
import { KVM_MODULES, register } from "@clocksource/x86";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../test/support/fixtures.js";
import { runCli } from "../../../test/support/run-cli.js";
import { runCliAsNobody, UNPRIVILEGED_SKIP } from "../../../test/support/unprivileged.js";
import { renderProbeReport } from "../src/render-probe.js";

const tmp = mkdtempSync(join(tmpdir(), `cli-kvmhost-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function tree(files: Record<string, string>): string {
  const root = join(tmp, `t${n++}`);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), c);
  }
  return root;
}

const CPUINFO_VMX =
  "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 106\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n" +
  "flags\t\t: fpu tsc msr pae cx8 apic rdtscp lm constant_tsc nonstop_tsc tsc_known_freq vmx tsc_adjust\n" +
  "vmx flags\t: vnmi preemption_timer invvpid ept_x_only flexpriority apicv tsc_offset vtpr ept vpid unrestricted_guest tsc_scaling\n\n";

const HOST = {
  "proc/cpuinfo": CPUINFO_VMX,
  "sys/module/kvm/parameters/tsc_tolerance_ppm": "250\n",
  "sys/module/kvm/parameters/kvmclock_periodic_sync": "Y\n",
  "sys/module/kvm/initstate": "live\n",
  "sys/module/kvm_intel/parameters/ept": "Y\n",
  "sys/module/kvm_intel/initstate": "live\n",
  "dev/kvm": "",
};

function vcpu(vm: string, i: number, offset: string, ratio?: string): Record<string, string> {
  const d = `sys/kernel/debug/kvm/${vm}/vcpu${i}`;
  return { [`${d}/tsc-offset`]: `${offset}\n`, [`${d}/guest_mode`]: "0\n", ...(ratio ? { [`${d}/tsc-scaling-ratio`]: `${ratio}\n`, [`${d}/tsc-scaling-ratio-frac-bits`]: "48\n" } : {}) };
}

describe("clocksource probe: the KVM host lines", () => {
  it("lists the running VMs, one line per run of vCPUs with equal TSC parameters", () => {
    const one = (1n << 48n).toString();
    const root = tree({
      ...HOST,
      "proc/4242/comm": "qemu-system-x86\n",
      ...vcpu("4242-11", 0, "-1234567890123", "281481736234567"),
      ...vcpu("4242-11", 1, "-1234567890555", "281481736234567"),
      ...vcpu("4242-11", 2, "-1234567890555", "281481736234567"),
      ...vcpu("77-5", 0, "-42", one),
      ...vcpu("77-5", 1, "-42", one),
    });
    // A live view of the written tree: the debugfs values are read only on a live host.
    const c = createClockContainer({ view: new DirectorySystemView(root, true), env: {} });
    register(c);
    const report = buildProbeReport(c.resolve(ClockSelector).rank(), { root, live: true });
    expect(report.x86?.kvm).toMatchObject({ implementation: ["kvm_intel"], tscOffsetting: true, tscScaling: true });
    expect(report.x86?.kvm?.vms).toHaveLength(2);
    const text = renderProbeReport(report);
    expect(text).toMatch(/^ {2}KVM implementation {3}kvm_intel is KVM on Intel VMX, a loadable module \(initstate live\)$/m);
    expect(text).toMatch(/^ {2}TSC offsetting \(hw\) {2}yes — the VMX control "use TSC offsetting"$/m);
    expect(text).toMatch(/^ {2}TSC scaling \(hw\) {5}yes — the VMX control "use TSC scaling" \(ratio with 48 fractional bits\)$/m);
    expect(text).toContain(
      "  KVM VMs              2\n" +
        "    4242-11 qemu-system-x86 (pid 4242, fd 11): 3 vCPUs\n" +
        "      vcpu0  tsc-offset -1234567890123, ratio 281481736234567 / 2^48\n" +
        "      vcpu1-2  tsc-offset -1234567890555, ratio 281481736234567 / 2^48\n" +
        "    77-5 (pid 77, fd 5): 2 vCPUs\n" +
        "      vcpu0-1  tsc-offset -42, ratio 2^48 (unscaled)\n",
    );
  });

  it("a snapshot carries the module parameters (and nothing else under sys/module): which KVM and the hardware facts, VMs live only", () => {
    const from = tree({ ...HOST, "sys/module/other/parameters/secret": "s3cret\n", ...vcpu("4242-11", 0, "-5") });
    const dir = join(tmp, `snap${n++}`);
    const s = runCli(["snapshot", dir, "--from", from]);
    expect(s.stderr).toBe("");
    expect(s.status).toBe(0);
    for (const p of ["sys/module/kvm/parameters/tsc_tolerance_ppm", "sys/module/kvm/initstate", "sys/module/kvm_intel/parameters/ept"]) expect(existsSync(join(dir, p)), p).toBe(true);
    for (const p of ["sys/module/other", "sys/kernel/debug"]) expect(existsSync(join(dir, p)), p).toBe(false);
    const json = runCli(["probe", "--json", "--sysroot", dir]);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout).x86.kvm).toEqual({ implementation: ["kvm_intel"], tscOffsetting: true, tscScaling: true, vms: null });
    const text = runCli(["probe", "--sysroot", dir]).stdout;
    expect(text).toMatch(/^ {2}KVM VMs {14}not in a snapshot \(read on the live host only\)$/m);
  });

  it("on this machine: the summary matches the JSON, and the JSON what /sys/module and /dev/kvm say", () => {
    const r = runCli(["probe", "--json"]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const present = KVM_MODULES.filter((m) => existsSync(`/sys/module/${m}`));
    const vendors = present.filter((m) => m !== "kvm");
    const text = runCli(["probe"]).stdout;
    if (report.x86 === null) {
      expect(text).not.toMatch(/KVM implementation/);
      console.log("probe-kvm-host live: not an x86 machine");
      return;
    }
    const kvm = report.x86.kvm;
    console.log(`probe-kvm-host live: modules [${present.join(", ")}], /dev/kvm ${existsSync("/dev/kvm") ? "present" : "absent"}, x86.kvm = ${JSON.stringify(kvm)}`);
    if (present.length === 0 && kvm === null) {
      expect(text).not.toMatch(/KVM implementation/);
      return;
    }
    expect(kvm).not.toBeNull();
    expect(kvm.implementation).toEqual(present.length > 0 ? vendors : null);
    expect(text).toMatch(/^ {2}KVM implementation /m);
    const tri = (v: boolean | null) => (v === null ? "unknown" : v ? "yes" : "no");
    expect(text).toMatch(new RegExp(`^  TSC offsetting \\(hw\\)  ${tri(kvm.tscOffsetting)}`, "m"));
    expect(text).toMatch(new RegExp(`^  TSC scaling \\(hw\\) {5}${tri(kvm.tscScaling)}`, "m"));
    if (!existsSync("/dev/kvm") && present.length > 0) {
      expect(kvm.vms).toEqual([]);
      expect(text).toMatch(/^ {2}KVM VMs {14}none — KVM modules are there but \/dev\/kvm is not/m);
    } else if (Array.isArray(kvm.vms)) {
      expect(text).toMatch(new RegExp(`^  KVM VMs {14}${kvm.vms.length === 0 ? "none" : "\\d+"}`, "m"));
    }
  });

  const debugfsClosed = (() => {
    try {
      return (statSync("/sys/kernel/debug").mode & 0o005) === 0;
    } catch {
      return false;
    }
  })();
  const kvmHere = KVM_MODULES.some((m) => existsSync(`/sys/module/${m}`)) || existsSync("/dev/kvm");
  const nobodySkip = UNPRIVILEGED_SKIP ?? (!kvmHere ? "skipping: no KVM module or /dev/kvm on this machine" : !debugfsClosed ? "skipping: /sys/kernel/debug is open to others here" : null);
  if (nobodySkip) console.warn(`probe-kvm-host as nobody: ${nobodySkip}`);

  it.skipIf(nobodySkip !== null)("as nobody on this KVM host: the VMs are unknown (debugfs is root-only), which KVM and the hardware facts are still answered", () => {
    const r = runCliAsNobody(["probe", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const vm = report.facts.filter((f: { name: string }) => f.name === "x86.kvm_vm_tsc");
    expect(vm).toEqual([expect.objectContaining({ confidence: "unknown", source: "/sys/kernel/debug/kvm", reason: "permission denied (needs root?)" })]);
    expect(report.x86.kvm.implementation).toEqual(KVM_MODULES.filter((m) => m !== "kvm" && existsSync(`/sys/module/${m}`)));
  });
});

/** Why a real VM cannot be listed here, or null. */
function realVmUnsupported(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "needs root (KVM debugfs)";
  if (!existsSync("/dev/kvm")) return "/dev/kvm does not exist (no KVM on this machine)";
  if (!existsSync("/sys/kernel/debug/kvm")) return "KVM debugfs is not mounted at /sys/kernel/debug";
  if (spawnSync("gcc", ["--version"], { timeout: 10_000 }).error) return "gcc is not installed";
  return null;
}
const realVmSkip = realVmUnsupported();
if (realVmSkip) console.log(`[probe-kvm-host] real-VM case skipped: ${realVmSkip}`);

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe("clocksource probe on a KVM host running a real VM", () => {
  it.skipIf(realVmSkip !== null)("lists the KVM guest harness's VM with its 2 vCPUs and their debugfs offsets, before and after the guest ran", async (ctx) => {
    const bin = join(tmp, "kvm-guest-harness");
    const cc = spawnSync("gcc", ["-O2", "-Wall", "-pthread", "-o", bin, join(REPO_ROOT, "test/kvm/kvm-guest-harness.c")], { encoding: "utf8", timeout: 60_000 });
    expect(cc.stderr).toBe("");
    const child = spawn(bin, ["--vcpus", "2", "--loops", "50", "--hold"], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    try {
      await until(() => /ready pid=\d+/.test(err) || child.exitCode !== null, 20_000);
      if (child.exitCode === 3) ctx.skip(`KVM unusable here: ${err.trim()}`);
      const m = /ready pid=(\d+) vm_fd=(\d+) vcpus=2/.exec(err);
      expect(m, err).not.toBeNull();
      const [pid, fd] = [Number(m?.[1]), Number(m?.[2])];
      const vm = `${pid}-${fd}`;
      const check = () => {
        const r = runCli(["probe", "--json"]);
        expect(r.status).toBe(0);
        const vms = JSON.parse(r.stdout).x86.kvm.vms as { vm: string; pid: number; fd: number; vcpus: { vcpu: number; tscOffset: string; tscScalingRatio: string | null; fracBits: number | null }[] }[];
        const mine = vms.find((v) => v.vm === vm);
        expect(mine, JSON.stringify(vms)).toMatchObject({ pid, fd });
        expect(mine?.vcpus.map((c) => c.vcpu)).toEqual([0, 1]);
        for (const c of mine?.vcpus ?? []) {
          const dir = `/sys/kernel/debug/kvm/${vm}/vcpu${c.vcpu}`;
          expect(c.tscOffset).toBe(readFileSync(`${dir}/tsc-offset`, "utf8").trim());
          expect(c.tscScalingRatio).toBe(existsSync(`${dir}/tsc-scaling-ratio`) ? readFileSync(`${dir}/tsc-scaling-ratio`, "utf8").trim() : null);
        }
        const text = runCli(["probe"]).stdout;
        expect(text).toContain(`(pid ${pid}, fd ${fd}): 2 vCPUs\n`);
        console.log(`[probe-kvm-host] real VM ${vm}: ${JSON.stringify(mine?.vcpus)}`);
      };
      check();
      child.stdin.write("go\n");
      expect(await until(() => /^done$/m.test(err) || child.exitCode !== null, 45_000)).toBe(true);
      if (child.exitCode === 3) ctx.skip(`KVM cannot run the guest here: ${err.trim()}`);
      expect(child.exitCode, err).toBeNull(); // held: the VM still exists
      check();
    } finally {
      child.stdin.end();
      if (child.exitCode === null && child.signalCode === null) {
        const gone = await until(() => child.exitCode !== null, 5_000);
        if (!gone) child.kill("SIGKILL");
      }
      await closed;
    }
  });
});
