import { readFileSync, statSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectorySystemView } from "@clocksource/core";
import { describe, expect, it } from "vitest";
import { announceFixtureSkip, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";
import { brandString, cpuidKey, cpuSignature, formatCpuidR, hypervisorSignature, openCpuid, parseCpuidDump, vendorId, type CpuidRegs } from "../src/index.js";

announceFixtureSkip();

function dump(machine: string) {
  const r = parseCpuidDump(readFileSync(join(machineRoot(machine), "dev/cpu/0/cpuid"), "utf8"));
  if (!r.ok) throw new Error(r.reason);
  return r.dump;
}
const leaf = (d: ReturnType<typeof dump>, l: number, s = 0) => {
  const e = d.leaves.get(cpuidKey(l, s));
  return e && { eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx };
};

describe.skipIf(!HAVE_FIXTURES)("CPUID dump formats (real dumps)", () => {
  it("hwloc pu0: inputs EAX/ECX select leaf/subleaf, outputs follow =>", () => {
    const d = dump("hwloc__Intel-RaptorLake-Corei7-1370P");
    expect(d.format).toBe("hwloc");
    // `1 15 0 0 0 => 2 72 249f000 0`
    expect(leaf(d, 0x15)).toEqual({ eax: 2, ebx: 0x72, ecx: 0x249f000, edx: 0 });
    const q = dump("hwloc__Intel-CPUID.1F-Qemu-2p3d3c2t");
    // `5 4 0 2 0 => 8004143 3c0003f fff 1`: subleaf 2 of leaf 4
    expect(leaf(q, 4, 2)).toEqual({ eax: 0x8004143, ebx: 0x3c0003f, ecx: 0xfff, edx: 1 });
    expect(vendorId(leaf(q, 0) as CpuidRegs)).toBe("GenuineIntel");
  });

  it("AIDA/InstLatx64: [SL nn] subleaves, CPU 0's section only", () => {
    const z = dump("instlatx64__AuthenticAMD0800F12_K17_Zen");
    expect(z.format).toBe("aida");
    expect(hypervisorSignature(leaf(z, 0x40000000) as CpuidRegs)).toBe("Microsoft Hv");
    expect(leaf(z, 0xd, 1)).toEqual({ eax: 0xb, ebx: 0x340, ecx: 0, edx: 0 });
    // The Kabini dump repeats every leaf under `CPU#nnn AffMask` headers; CPU 0's APIC id is 0 (leaf 1 EBX[31:24]).
    const k = dump("instlatx64__AuthenticAMD0700F01_K16_Kabini3");
    expect((leaf(k, 1) as CpuidRegs).ebx >>> 24).toBe(0);
  });

  it("AIDA without headers: a second listing starting at leaf 0 is the next CPU", () => {
    const c = dump("instlatx64__CentaurHauls00006FA_CNC_Isaiah");
    // CPU 0: 00020800; CPU 1 (second listing): 02020800
    expect((leaf(c, 1) as CpuidRegs).ebx).toBe(0x00020800);
    expect(leaf(c, 0xc0000004)).toEqual({ eax: 0x1c, ebx: 0x08001263, ecx: 0x08471263, edx: 0 });
  });

  it("older EVEREST dumps list subleaves as consecutive lines without [SL]", () => {
    const b = dump("instlatx64__GenuineIntel00106A4_Bloomfield");
    expect((leaf(b, 4, 0) as CpuidRegs).eax).toBe(0x1c004121);
    expect((leaf(b, 4, 1) as CpuidRegs).eax).toBe(0x1c004122);
    expect((leaf(b, 4, 3) as CpuidRegs).eax).toBe(0x1c03c163);
    expect((leaf(b, 0xb, 1) as CpuidRegs).ebx).toBe(8);
    expect(brandString(leaf(b, 0x80000002) as CpuidRegs, leaf(b, 0x80000003) as CpuidRegs, leaf(b, 0x80000004) as CpuidRegs)).toMatch(/^Genuine Intel\(R\) CPU\s+000\s+@ 3\.20GHz$/);
  });

  it("pytorch-cpuinfo's InstLatx64-style dump (CR LF or not) decodes signature and brand", () => {
    const z = dump("pytorch-cpuinfo__zenfone-2");
    expect(cpuSignature((leaf(z, 1) as CpuidRegs).eax)).toMatchObject({ family: 6, model: 0x5a, stepping: 0 });
    expect(brandString(leaf(z, 0x80000002) as CpuidRegs, leaf(z, 0x80000003) as CpuidRegs, leaf(z, 0x80000004) as CpuidRegs)).toBe("Intel(R) Atom(TM) CPU  Z3580  @ 1.33GHz");
  });

  it("rejects text in no known format with a reason", () => {
    const r = parseCpuidDump("hello\nworld\n");
    expect(r.ok).toBe(false);
  });
});

function hasReadableCpuidDevice(): boolean {
  try {
    if (!statSync("/dev/cpu/0/cpuid").isCharacterDevice()) return false;
    const v = new DirectorySystemView("/", true);
    return v.readAt("dev/cpu/0/cpuid", 0n, 16).ok;
  } catch {
    return false;
  }
}
const LIVE = hasReadableCpuidDevice();
if (!LIVE) console.warn("skipping live CPUID tests: /dev/cpu/0/cpuid is absent or not readable (needs root and the cpuid driver)");

describe.skipIf(!LIVE)("CPUID live device", () => {
  it("reads leaves with pread at leaf | subleaf << 32, and a cpuid -r dump of them parses back identically", () => {
    const opened = openCpuid(new DirectorySystemView("/", true));
    if (!opened.ok) throw new Error(opened.reason);
    const cpuid = opened.cpuid;
    expect(cpuid.format).toBe("device");
    const l0 = cpuid.leaf(0);
    if (!l0.ok) throw new Error(l0.reason);
    expect(["GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "  Shanghai  "]).toContain(vendorId(l0.regs));
    const wanted: { leaf: number; subleaf: number; regs: CpuidRegs }[] = [];
    for (const [l, s] of [[0, 0], [1, 0], [4, 0], [4, 1], [0x80000000, 0], [0x80000007, 0]] as const) {
      const r = cpuid.leaf(l, s);
      if (r.ok) wanted.push({ leaf: l, subleaf: s, regs: r.regs });
    }
    const parsed = parseCpuidDump(formatCpuidR(wanted));
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.dump.format).toBe("cpuid-r");
    for (const w of wanted) expect(leaf(parsed.dump, w.leaf, w.subleaf)).toEqual(w.regs);
    // and through a snapshot directory, as `clocksource snapshot` would lay it out
    const tmp = mkdtempSync(join(tmpdir(), "cpuid-r-"));
    try {
      mkdirSync(join(tmp, "dev/cpu/0"), { recursive: true });
      writeFileSync(join(tmp, "dev/cpu/0/cpuid"), formatCpuidR(wanted));
      const snap = openCpuid(new DirectorySystemView(tmp, false));
      expect(snap.ok && snap.cpuid.format).toBe("cpuid-r");
      const r1 = snap.ok ? snap.cpuid.leaf(1) : undefined;
      expect(r1?.ok && { eax: r1.regs.eax, ebx: r1.regs.ebx, ecx: r1.regs.ecx, edx: r1.regs.edx }).toEqual(wanted[1]?.regs);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});
const CAN_DROP = LIVE && process.getuid?.() === 0 && SETPRIV !== undefined;
if (!CAN_DROP) console.warn("skipping the cpuid permission test: needs root, setpriv and a readable /dev/cpu/0/cpuid to run a probe as an unprivileged user");

describe.skipIf(!CAN_DROP)("CPUID device without permission (real EACCES, probe run as user nobody)", () => {
  it("says it needs root and the other sources carry on", async () => {
    const { spawnSync } = await import("node:child_process");
    const cli = join(import.meta.dirname, "..", "..", "cli", "bin", "clocksource.cjs");
    const r = spawnSync(SETPRIV as string, ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cli, "probe", "--json"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { facts: { name: string; value: unknown; confidence: string; reason?: string; source: string }[] };
    expect(report.facts.find((f) => f.name === "x86.cpuid")).toMatchObject({ confidence: "unknown", reason: "needs root: permission denied reading the cpuid device", source: "/dev/cpu/0/cpuid" });
    // /proc/cpuinfo still answers
    expect(report.facts.some((f) => f.name === "x86.invariant_tsc" && f.source.startsWith("/proc/cpuinfo"))).toBe(true);
  });
});
