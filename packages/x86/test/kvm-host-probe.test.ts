import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildProbeReport, ClockSelector, createClockContainer, DirectorySystemView, fact, FACT, FactSet, type Fact, type FactValue } from "@clocksource/core";
import { afterAll, describe, expect, it } from "vitest";
import { HAVE_FIXTURES, machineRoot, REPO_ROOT } from "../../../test/support/fixtures.js";
import { NOBODY, UNPRIVILEGED_SKIP } from "../../../test/support/unprivileged.js";
import { KVM_MODULE_FACT, KVM_MODULES, KVM_PROBE_MAX_VMS, KvmHostTscProbe, register } from "../src/index.js";

const tmp = mkdtempSync(join(tmpdir(), `x86-kvmhost-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

const X86 = () => new FactSet([fact("arch", "x86_64", "uname -m", "definitive")]);

/** Writes `files` (path → content) under a fresh root; a `null` content makes a directory. */
function tree(files: Record<string, string | null>): string {
  const root = join(tmp, `t${n++}`);
  mkdirSync(root);
  for (const [p, c] of Object.entries(files)) {
    if (c === null) mkdirSync(join(root, p), { recursive: true });
    else {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), c);
    }
  }
  return root;
}

/**
 * `/proc/cpuinfo` as x86 kernels print it: one block per logical CPU, tab
 * before the colon, `vmx flags` after `flags` on VMX CPUs (5.8+).
 */
function cpuinfo(vendor: "GenuineIntel" | "AuthenticAMD", model: string, flags: string, vmxFlags?: string, cpus = 2): string {
  let out = "";
  for (let i = 0; i < cpus; i++) {
    out += `processor\t: ${i}\nvendor_id\t: ${vendor}\ncpu family\t: ${vendor === "AuthenticAMD" ? 23 : 6}\nmodel\t\t: 1\nmodel name\t: ${model}\n`;
    out += `flags\t\t: ${flags}\n`;
    if (vmxFlags !== undefined) out += `vmx flags\t: ${vmxFlags}\n`;
    out += "bugs\t\t: spectre_v1 spectre_v2\nbogomips\t: 4192.00\n\n";
  }
  return out;
}

const BASE = "fpu vme de pse tsc msr pae mce cx8 apic sep pge mca cmov pat clflush mmx fxsr sse sse2 ht syscall nx rdtscp lm constant_tsc nonstop_tsc cpuid tsc_known_freq pni";
const INTEL_FLAGS = `${BASE} vmx est ssse3 tsc_adjust`;
const INTEL_VMX_FLAGS = "vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority apicv tsc_offset vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid ple shadow_vmcs pml ept_mode_based_exec tsc_scaling";
const AMD_FLAGS = `${BASE} svm extapic npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter`;
const PVM_GUEST_FLAGS = `${BASE} hypervisor avx2`;

/** `sys/module/<m>/…` as the kernel lays it out: `initstate` only for a loadable module. */
function module(name: string, params: Record<string, string>, loadable: boolean): Record<string, string | null> {
  const out: Record<string, string | null> = { [`sys/module/${name}/parameters`]: null };
  if (loadable) out[`sys/module/${name}/initstate`] = "live\n";
  for (const [k, v] of Object.entries(params)) out[`sys/module/${name}/parameters/${k}`] = `${v}\n`;
  return out;
}

const KVM_PARAMS = { tsc_tolerance_ppm: "250", kvmclock_periodic_sync: "Y", halt_poll_ns: "200000", ignore_msrs: "N", enable_pmu: "Y" };

interface Vcpu {
  offset: string;
  ratio?: string;
  frac?: string;
}

/** KVM's debugfs as the kernel makes it: stats beside `<pid>-<fd>/vcpuN/` directories; scaling files only with TSC control. */
function debugfs(vms: Record<string, Vcpu[]>): Record<string, string | null> {
  const out: Record<string, string | null> = { "sys/kernel/debug/kvm/exits": "123\n", "sys/kernel/debug/kvm/halt_wakeup": "4\n", "sys/kernel/debug/block": null };
  for (const [vm, vcpus] of Object.entries(vms)) {
    out[`sys/kernel/debug/kvm/${vm}/pages_4k`] = "1024\n";
    vcpus.forEach((v, i) => {
      const d = `sys/kernel/debug/kvm/${vm}/vcpu${i}`;
      out[`${d}/guest_mode`] = "0\n";
      out[`${d}/lapic_timer_advance_ns`] = "1000\n";
      out[`${d}/tsc-offset`] = `${v.offset}\n`;
      if (v.ratio !== undefined) out[`${d}/tsc-scaling-ratio`] = `${v.ratio}\n`;
      if (v.frac !== undefined) out[`${d}/tsc-scaling-ratio-frac-bits`] = `${v.frac}\n`;
    });
  }
  return out;
}

function probe(root: string, live: boolean): FactSet {
  return new FactSet(new KvmHostTscProbe().probe(new DirectorySystemView(root, live), X86()));
}

function only(facts: FactSet, name: string): Fact {
  const all = facts.named(name);
  expect(all, `${name}: ${JSON.stringify(facts.all(), null, 1)}`).toHaveLength(1);
  return all[0] as Fact;
}

describe("KVM host probe on written trees", () => {
  it("Intel VMX with TSC scaling: kvm_intel, its parameters, offsetting and scaling from `vmx flags`", () => {
    const root = tree({
      "proc/cpuinfo": cpuinfo("GenuineIntel", "Intel(R) Xeon(R) Gold 6338", INTEL_FLAGS, INTEL_VMX_FLAGS),
      ...module("kvm", KVM_PARAMS, true),
      ...module("kvm_intel", { ept: "Y", nested: "Y", preemption_timer: "Y", enable_apicv: "Y" }, true),
      "dev/kvm": "",
    });
    const f = probe(root, false);
    expect(only(f, FACT.x86KvmImplementation)).toMatchObject({ value: ["kvm_intel"], confidence: "definitive", source: "sys/module/kvm_intel" });
    expect(f.best(FACT.x86KvmImplementation)?.reason).toMatch(/kvm_intel is KVM on Intel VMX, a loadable module \(initstate live\)/);
    expect(only(f, KVM_MODULE_FACT.parametersOf("kvm_intel"))).toMatchObject({ value: { ept: "Y", nested: "Y", preemption_timer: "Y", enable_apicv: "Y" }, source: "sys/module/kvm_intel/parameters" });
    expect(only(f, KVM_MODULE_FACT.parametersOf("kvm")).value).toEqual(KVM_PARAMS);
    expect(only(f, KVM_MODULE_FACT.tscTolerancePpm)).toMatchObject({ value: 250, confidence: "definitive", source: "sys/module/kvm/parameters/tsc_tolerance_ppm" });
    expect(only(f, KVM_MODULE_FACT.kvmclockPeriodicSync)).toMatchObject({ value: true, confidence: "definitive" });
    expect(only(f, FACT.x86KvmTscOffsetting)).toMatchObject({ value: true, confidence: "definitive", source: "proc/cpuinfo vmx flags tsc_offset" });
    expect(only(f, FACT.x86KvmTscScaling)).toMatchObject({ value: true, confidence: "definitive", source: "proc/cpuinfo vmx flags tsc_scaling" });
    // A snapshot has no debugfs: the VMs are not guessed.
    expect(f.named(FACT.x86KvmVmTsc)).toEqual([]);
  });

  it("Intel VMX without TSC scaling, and a kernel too old for `vmx flags`", () => {
    const noScale = probe(tree({ "proc/cpuinfo": cpuinfo("GenuineIntel", "Intel(R) Xeon(R) CPU E5-2680 v2", INTEL_FLAGS, INTEL_VMX_FLAGS.replace(" tsc_scaling", "")), ...module("kvm_intel", { ept: "Y" }, true) }), false);
    expect(only(noScale, FACT.x86KvmTscOffsetting).value).toBe(true);
    expect(only(noScale, FACT.x86KvmTscScaling)).toMatchObject({ value: false, confidence: "derived" });
    const old = probe(tree({ "proc/cpuinfo": cpuinfo("GenuineIntel", "Intel(R) Xeon(R) CPU E5-2680 v2", INTEL_FLAGS), ...module("kvm_intel", { ept: "Y" }, true) }), false);
    expect(only(old, FACT.x86KvmTscOffsetting)).toMatchObject({ value: true, confidence: "derived" });
    expect(only(old, FACT.x86KvmTscScaling)).toMatchObject({ value: null, confidence: "unknown" });
    expect(old.named(FACT.x86KvmTscScaling)[0]?.reason).toMatch(/no `vmx flags` line/);
    // The CPU alone, without kvm_intel: still a capability, but only a heuristic for offsetting.
    const bare = probe(tree({ "proc/cpuinfo": cpuinfo("GenuineIntel", "Intel(R) Core(TM) i7", INTEL_FLAGS) }), false);
    expect(only(bare, FACT.x86KvmTscOffsetting).confidence).toBe("heuristic");
    expect(bare.named(FACT.x86KvmImplementation)).toEqual([]);
  });

  it("AMD SVM with tsc_scale; kvm_amd's tsc_scaling=0 turns it off; no tsc_scale, no scaling", () => {
    const amd = (flags: string, amdParams: Record<string, string>) =>
      probe(tree({ "proc/cpuinfo": cpuinfo("AuthenticAMD", "AMD EPYC 7451 24-Core Processor", flags), ...module("kvm", KVM_PARAMS, true), ...module("kvm_amd", amdParams, true) }), false);
    const on = amd(AMD_FLAGS, { npt: "1", nested: "1", tsc_scaling: "1", avic: "0" });
    expect(only(on, FACT.x86KvmImplementation).value).toEqual(["kvm_amd"]);
    expect(only(on, FACT.x86KvmTscOffsetting)).toMatchObject({ value: true, confidence: "derived", source: "proc/cpuinfo flags svm" });
    expect(only(on, FACT.x86KvmTscScaling)).toMatchObject({ value: true, confidence: "definitive", source: "proc/cpuinfo flags tsc_scale; sys/module/kvm_amd/parameters/tsc_scaling = 1" });
    const off = amd(AMD_FLAGS, { npt: "1", tsc_scaling: "0" });
    expect(only(off, FACT.x86KvmTscScaling)).toMatchObject({ value: false, confidence: "derived" });
    expect(off.best(FACT.x86KvmTscScaling)?.reason).toMatch(/tsc_scaling parameter turned it off/);
    const none = amd(AMD_FLAGS.replace(" tsc_scale", ""), { npt: "1", tsc_scaling: "0" });
    expect(only(none, FACT.x86KvmTscScaling)).toMatchObject({ value: false, source: "proc/cpuinfo flags tsc_scale" });
    // Older kvm_amd had no tsc_scaling parameter: the CPU flag decides.
    const noParam = amd(AMD_FLAGS, { npt: "1" });
    expect(only(noParam, FACT.x86KvmTscScaling)).toMatchObject({ value: true, source: "proc/cpuinfo flags tsc_scale" });
  });

  it("PVM: kvm_pvm built in, no VMX or SVM: no hardware offsetting or scaling, said with the reason; no /dev/kvm: no VM can run", () => {
    const root = tree({
      "proc/cpuinfo": cpuinfo("AuthenticAMD", "AMD EPYC", PVM_GUEST_FLAGS),
      ...module("kvm", KVM_PARAMS, false),
      ...module("kvm_pvm", { force: "N", hb_mask: "8388607", pvm_native: "Y", verbose: "N" }, false),
      "sys/kernel/debug/block": null,
    });
    const f = probe(root, true);
    expect(only(f, FACT.x86KvmImplementation)).toMatchObject({ value: ["kvm_pvm"], confidence: "definitive" });
    expect(f.best(FACT.x86KvmImplementation)?.reason).toMatch(/kvm_pvm is PVM .*without VMX or SVM.*built in \(no initstate\)/);
    expect(only(f, KVM_MODULE_FACT.parametersOf("kvm_pvm"))).toMatchObject({ value: { force: "N", hb_mask: "8388607", pvm_native: "Y", verbose: "N" }, reason: "built in (no initstate)" });
    for (const name of [FACT.x86KvmTscOffsetting, FACT.x86KvmTscScaling]) {
      const x = only(f, name);
      expect(x).toMatchObject({ value: false, confidence: "derived", source: "/proc/cpuinfo flags (neither vmx nor svm)" });
      expect(x.reason).toMatch(/^PVM runs guests without VMX or SVM: nothing in hardware/);
    }
    expect(only(f, FACT.x86KvmVmTsc)).toMatchObject({ value: [], confidence: "derived", source: "/dev/kvm (absent)" });
    expect(f.best(FACT.x86KvmVmTsc)?.reason).toMatch(/KVM did not register, so no VM can run/);
  });

  it("kvm without a vendor module: no implementation, and why", () => {
    const f = probe(tree({ "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS), ...module("kvm", KVM_PARAMS, true) }), false);
    expect(only(f, FACT.x86KvmImplementation)).toMatchObject({ value: [], confidence: "derived", source: "sys/module/kvm" });
    expect(f.best(FACT.x86KvmImplementation)?.reason).toMatch(/nothing registers \/dev\/kvm/);
  });

  it("a running VM with 2 vCPUs and offsets, another unscaled: pid, fd, VMM name, every vCPU; the scaling files cross-check scaling", () => {
    const ratio = "281481736234567"; // 2^48 × 1.00002…: a guest slightly faster than the host
    const root = tree({
      "proc/cpuinfo": cpuinfo("GenuineIntel", "Intel(R) Xeon(R) Gold 6338", INTEL_FLAGS, INTEL_VMX_FLAGS),
      ...module("kvm", KVM_PARAMS, true),
      ...module("kvm_intel", { ept: "Y" }, true),
      "dev/kvm": "",
      "proc/4242/comm": "qemu-system-x86\n",
      ...debugfs({
        "4242-11": [
          { offset: "-1234567890123", ratio, frac: "48" },
          { offset: "-1234567890555", ratio, frac: "48" },
        ],
        "99-3": [{ offset: "5", ratio: (1n << 48n).toString(), frac: "48" }],
      }),
    });
    const f = probe(root, true);
    const vms = only(f, FACT.x86KvmVmTsc);
    expect(vms).toMatchObject({ confidence: "definitive", source: "/sys/kernel/debug/kvm", reason: "2 VM(s) read, 3 vCPU(s)" });
    expect(vms.value).toEqual([
      { vm: "4242-11", pid: 4242, fd: 11, comm: "qemu-system-x86", vcpus: [
        { vcpu: 0, tscOffset: "-1234567890123", tscScalingRatio: ratio, fracBits: 48 },
        { vcpu: 1, tscOffset: "-1234567890555", tscScalingRatio: ratio, fracBits: 48 },
      ] },
      { vm: "99-3", pid: 99, fd: 3, comm: null, vcpus: [{ vcpu: 0, tscOffset: "5", tscScalingRatio: (1n << 48n).toString(), fracBits: 48 }] },
    ]);
    const scaling = f.named(FACT.x86KvmTscScaling);
    expect(scaling.map((x) => [x.value, x.confidence, x.source])).toEqual([
      [true, "definitive", "/proc/cpuinfo vmx flags tsc_scaling"],
      [true, "derived", "/sys/kernel/debug/kvm/4242-11/vcpu0/tsc-scaling-ratio"],
    ]);
  });

  it("PVM with a VM: tsc-offset 0 and no scaling files, which agrees with the CPU having no scaling", () => {
    const root = tree({
      "proc/cpuinfo": cpuinfo("AuthenticAMD", "AMD EPYC", PVM_GUEST_FLAGS),
      ...module("kvm", KVM_PARAMS, false),
      ...module("kvm_pvm", { pvm_native: "Y" }, false),
      "dev/kvm": "",
      ...debugfs({ "7001-9": [{ offset: "0" }, { offset: "0" }] }),
    });
    const f = probe(root, true);
    expect(only(f, FACT.x86KvmVmTsc).value).toEqual([
      { vm: "7001-9", pid: 7001, fd: 9, comm: null, vcpus: [0, 1].map((vcpu) => ({ vcpu, tscOffset: "0", tscScalingRatio: null, fracBits: null })) },
    ]);
    expect(f.named(FACT.x86KvmTscScaling).map((x) => x.value)).toEqual([false, false]);
    expect(new FactSet(f.all()).conflicts()).toEqual([]);
  });

  it("no debugfs, debugfs not mounted, no kvm in it, no VM running", () => {
    const host = { "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS), ...module("kvm_intel", { ept: "Y" }, true), "dev/kvm": "" };
    const noDebug = probe(tree(host), true);
    expect(only(noDebug, FACT.x86KvmVmTsc)).toMatchObject({ confidence: "unknown", source: "/sys/kernel/debug", reason: "not present" });
    const unmounted = probe(tree({ ...host, "sys/kernel/debug": null }), true);
    expect(only(unmounted, FACT.x86KvmVmTsc).reason).toMatch(/debugfs is not mounted there \(mount -t debugfs none \/sys\/kernel\/debug\)/);
    const noKvmView = new DirectorySystemView(tree({ ...host, "sys/kernel/debug/block": null, "sys/kernel/debug/clk": null, "sys/kernel/debug/dma_buf": null }), true);
    const noKvm = new FactSet(new KvmHostTscProbe().probe(noKvmView, X86()));
    expect(only(noKvm, FACT.x86KvmVmTsc).reason).toMatch(/no kvm directory although \/dev\/kvm exists/);
    expect(noKvmView.cuts()).toEqual([]); // looking into debugfs cut no input short
    const idle = probe(tree({ ...host, ...debugfs({}) }), true);
    expect(only(idle, FACT.x86KvmVmTsc)).toMatchObject({ value: [], confidence: "definitive", reason: "no VM is running" });
    // No scaling files to look at: no cross-check fact.
    expect(idle.named(FACT.x86KvmTscScaling)).toHaveLength(1);
  });

  it("a VM that cannot be read (a FIFO, a malformed value, a vanished vCPU file) is listed with the reason; the others are read; nothing blocks", () => {
    const files = {
      "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS),
      ...module("kvm_intel", { ept: "Y" }, true),
      "dev/kvm": "",
      ...debugfs({ "10-1": [{ offset: "7" }], "20-2": [{ offset: "0x10" }], "30-3": [{ offset: "1" }], "40-4": [{ offset: "-1" }] }),
    };
    const root = tree(files);
    rmSync(join(root, "sys/kernel/debug/kvm/10-1/vcpu0/tsc-offset"));
    const fifo = spawnSync("mkfifo", [join(root, "sys/kernel/debug/kvm/10-1/vcpu0/tsc-offset")]).status === 0;
    if (!fifo) console.warn("kvm-host-probe: mkfifo failed; the FIFO case reads a missing file instead");
    rmSync(join(root, "sys/kernel/debug/kvm/30-3/vcpu0/tsc-offset"));
    const value = only(probe(root, true), FACT.x86KvmVmTsc);
    const vms = value.value as { vm: string; vcpus: unknown[]; error?: string }[];
    expect(vms.map((v) => v.vm)).toEqual(["10-1", "20-2", "30-3", "40-4"]);
    expect(vms[0]?.error).toMatch(fifo ? /FIFO/i : /not present/);
    expect(vms[1]?.error).toMatch(/20-2\/vcpu0\/tsc-offset: malformed value: expected a signed decimal integer/);
    expect(vms[2]?.error).toMatch(/30-3\/vcpu0\/tsc-offset: not present/);
    expect(vms[3]).toMatchObject({ vcpus: [{ vcpu: 0, tscOffset: "-1", tscScalingRatio: null, fracBits: null }] });
    expect(vms[3]?.error).toBeUndefined();
    expect(value.reason).toBe("1 VM(s) read, 1 vCPU(s); 3 could not be read");
  });

  it(`caps the VMs read at ${KVM_PROBE_MAX_VMS} and says so`, () => {
    const vms: Record<string, Vcpu[]> = {};
    for (let i = 1; i <= KVM_PROBE_MAX_VMS + 2; i++) vms[`${1000 + i}-7`] = [{ offset: String(-i) }];
    const f = probe(tree({ "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS), ...module("kvm_intel", { ept: "Y" }, true), "dev/kvm": "", ...debugfs(vms) }), true);
    expect((only(f, FACT.x86KvmVmTsc).value as unknown[]).length).toBe(KVM_PROBE_MAX_VMS);
    expect(only(f, FACT.inputTruncated)).toMatchObject({ value: true, source: "/sys/kernel/debug/kvm" });
    expect(f.best(FACT.inputTruncated)?.reason).toMatch(new RegExp(`read ${KVM_PROBE_MAX_VMS} of ${KVM_PROBE_MAX_VMS + 2} VMs`));
  });

  it("a snapshot with KVM's debugfs in it: the VMs are live-only, said as unknown", () => {
    const f = probe(tree({ "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS), ...module("kvm_intel", { ept: "Y" }, true), ...debugfs({ "5-6": [{ offset: "1" }] }) }), false);
    expect(only(f, FACT.x86KvmVmTsc)).toMatchObject({ confidence: "unknown", source: "sys/kernel/debug/kvm" });
    expect(f.best(FACT.x86KvmVmTsc)).toBeUndefined();
  });

  it("malformed and unreadable parameters: unknown time facts with the reason, the rest as found", () => {
    const root = tree({
      "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS),
      ...module("kvm", { tsc_tolerance_ppm: "-5", kvmclock_periodic_sync: "maybe", halt_poll_ns: "1" }, true),
      ...module("kvm_intel", { ept: "Y" }, true),
      "sys/module/kvm/parameters/big": "x".repeat(5000),
    });
    mkdirSync(join(root, "sys/module/kvm/parameters/oddity"));
    const f = probe(root, false);
    expect(only(f, KVM_MODULE_FACT.tscTolerancePpm)).toMatchObject({ confidence: "unknown", reason: 'malformed: expected an unsigned 32-bit decimal, got "-5"' });
    expect(only(f, KVM_MODULE_FACT.kvmclockPeriodicSync)).toMatchObject({ confidence: "unknown", reason: 'malformed: expected Y or N, got "maybe"' });
    const kvm = only(f, KVM_MODULE_FACT.parametersOf("kvm"));
    expect((kvm.value as Record<string, string>).halt_poll_ns).toBe("1");
    expect((kvm.value as Record<string, string>).big?.length).toBe(256);
    expect(kvm.reason).toMatch(/unreadable: oddity: is a directory/);
  });

  it("says nothing on an x86 machine without KVM, VMX or SVM, nor on a machine not known to be x86", () => {
    expect(probe(tree({ "proc/cpuinfo": cpuinfo("AuthenticAMD", "AMD EPYC", PVM_GUEST_FLAGS) }), true).all()).toEqual([]);
    const arm = new KvmHostTscProbe().probe(new DirectorySystemView(tree({ ...module("kvm", KVM_PARAMS, false) }), false), new FactSet([fact("arch", "arm64", "uname -m", "definitive")]));
    expect(arm).toEqual([]);
  });

  it("registered by register(): the probe report's x86.kvm section", () => {
    const root = tree({
      "proc/cpuinfo": cpuinfo("AuthenticAMD", "AMD EPYC 7451 24-Core Processor", AMD_FLAGS),
      ...module("kvm", KVM_PARAMS, true),
      ...module("kvm_amd", { npt: "1", tsc_scaling: "1" }, true),
      "dev/kvm": "",
    });
    const c = createClockContainer({ sysroot: root, env: {} });
    register(c);
    const report = buildProbeReport(c.resolve(ClockSelector).rank(), { root, live: false });
    expect(report.x86?.kvm).toEqual({ implementation: ["kvm_amd"], tscOffsetting: true, tscScaling: true, vms: null });
    const plain = tree({ "proc/cpuinfo": cpuinfo("AuthenticAMD", "AMD EPYC", PVM_GUEST_FLAGS) });
    const c2 = createClockContainer({ sysroot: plain, env: {} });
    register(c2);
    expect(buildProbeReport(c2.resolve(ClockSelector).rank(), { root: plain, live: false }).x86?.kvm).toBeNull();
  });
});

describe.skipIf(!HAVE_FIXTURES)("KVM host probe on real cpuinfo files (shared fixtures)", () => {
  it("a Raptor Lake laptop (vmx flags with tsc_offset and tsc_scaling) and an EPYC 7451 (svm, tsc_scale)", () => {
    const intel = tree({ "proc/cpuinfo": readFileSync(join(machineRoot("hwloc__20em64t-hybrid-1p6c2t+2ca4co1t"), "proc/cpuinfo"), "utf8"), ...module("kvm_intel", { ept: "Y" }, true) });
    const fi = probe(intel, false);
    expect([only(fi, FACT.x86KvmTscOffsetting).value, only(fi, FACT.x86KvmTscScaling).value]).toEqual([true, true]);
    const amd = tree({ "proc/cpuinfo": readFileSync(join(machineRoot("util-linux-lscpu__x86_64-epyc_7451"), "proc/cpuinfo"), "utf8"), ...module("kvm_amd", { tsc_scaling: "1" }, true) });
    const fa = probe(amd, false);
    expect([only(fa, FACT.x86KvmTscOffsetting).value, only(fa, FACT.x86KvmTscScaling).value]).toEqual([true, true]);
  });
});

const X86_DIST = join(REPO_ROOT, "packages/x86/dist/index.js");
const CORE_DIST = join(REPO_ROOT, "packages/core/dist/index.js");
const NOBODY_SKIP = UNPRIVILEGED_SKIP ?? (existsSync(X86_DIST) && existsSync(CORE_DIST) ? null : "skipping the as-nobody debugfs case: the packages are not built (npm test builds them first)");
if (NOBODY_SKIP) console.warn(NOBODY_SKIP);

describe("KVM host probe where debugfs is closed", () => {
  it.skipIf(NOBODY_SKIP !== null)("as nobody, a root-only debugfs (mode 0700, as the kernel mounts it) is unknown with `permission denied`, the rest still answered", () => {
    const root = tree({
      "proc/cpuinfo": cpuinfo("GenuineIntel", "x", INTEL_FLAGS, INTEL_VMX_FLAGS),
      ...module("kvm", KVM_PARAMS, true),
      ...module("kvm_intel", { ept: "Y" }, true),
      "dev/kvm": "",
      ...debugfs({ "4242-11": [{ offset: "-5" }] }),
    });
    chmodSync(tmp, 0o755);
    const open = (dir: string) => {
      chmodSync(dir, 0o755);
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) open(join(dir, e.name));
    };
    open(root);
    chmodSync(join(root, "sys/kernel/debug"), 0o700);
    const script = join(tmp, "as-nobody.mjs");
    writeFileSync(
      script,
      `import { DirectorySystemView, FactSet, fact } from ${JSON.stringify(CORE_DIST)};
import { KvmHostTscProbe } from ${JSON.stringify(X86_DIST)};
const facts = new KvmHostTscProbe().probe(new DirectorySystemView(process.argv[2], true), new FactSet([fact("arch", "x86_64", "test", "definitive")]));
process.stdout.write(JSON.stringify(facts));
`,
      { mode: 0o644 },
    );
    const r = spawnSync("setpriv", [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", process.execPath, script, root], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const f = new FactSet(JSON.parse(r.stdout) as Fact[]);
    expect(only(f, FACT.x86KvmVmTsc)).toMatchObject({ confidence: "unknown", source: "/sys/kernel/debug/kvm", reason: "permission denied (needs root?)" });
    expect(only(f, FACT.x86KvmImplementation).value).toEqual(["kvm_intel"]);
    expect(only(f, FACT.x86KvmTscScaling).value).toBe(true);
  });
});

describe("KVM host probe on this machine (asserting only what its files say)", () => {
  it("modules, hardware offsetting/scaling and VMs agree with /sys/module, /proc/cpuinfo, /dev/kvm and debugfs", () => {
    const f = probe("/", true);
    const present = KVM_MODULES.filter((m) => existsSync(`/sys/module/${m}`));
    const vendors = present.filter((m) => m !== "kvm");
    const flags = (/^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "").split(/\s+/);
    const vmx = flags.includes("vmx");
    const svm = flags.includes("svm");
    const devKvm = existsSync("/dev/kvm");
    const vmsFact = f.named(FACT.x86KvmVmTsc)[0];
    console.log(
      `kvm-host-probe live: modules [${present.join(", ")}], ${vmx ? "vmx" : svm ? "svm" : "no vmx/svm"}, /dev/kvm ${devKvm ? "present" : "absent"}; ` +
        `x86.kvm_vm_tsc ${vmsFact ? `${vmsFact.confidence}: ${vmsFact.reason ?? ""}` : "not emitted"}`,
    );
    for (const m of KVM_MODULES) expect(f.named(KVM_MODULE_FACT.parametersOf(m)).length, m).toBe(present.includes(m) ? 1 : 0);
    if (vendors.length > 0) expect(f.value(FACT.x86KvmImplementation)).toEqual(vendors);
    else if (present.includes("kvm")) expect(f.value(FACT.x86KvmImplementation)).toEqual([]);
    else expect(f.named(FACT.x86KvmImplementation)).toEqual([]);
    const offsetting = f.value(FACT.x86KvmTscOffsetting);
    if (svm) expect(offsetting).toBe(true);
    else if (!vmx && present.length > 0) {
      expect(offsetting).toBe(false);
      expect(f.value(FACT.x86KvmTscScaling)).toBe(false);
    } else if (!vmx) expect(offsetting).toBeUndefined();
    if (!devKvm && present.length > 0) {
      expect(vmsFact).toMatchObject({ value: [], confidence: "derived" });
    } else if (devKvm && vmsFact?.confidence !== "unknown") {
      // VMs come and go (other tests run guests): each listed one has the kernel's shape.
      const listed = vmsFact?.value as FactValue[];
      expect(Array.isArray(listed)).toBe(true);
      for (const vm of listed as { vm: string; pid: number; fd: number; vcpus: { tscOffset: string }[]; error?: string }[]) {
        expect(vm.vm).toBe(`${vm.pid}-${vm.fd}`);
        if (vm.error === undefined) for (const c of vm.vcpus) expect(c.tscOffset).toMatch(/^(0|-?[1-9][0-9]*)$/);
      }
    }
  });
});
