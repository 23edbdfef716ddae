import type { SystemView } from "@clocksource/core";
import { formatCpuidR, openCpuid, type CpuidRegs, type CpuidSource } from "@clocksource/x86";

export type CpuidDump = { ok: true; text: string } | { ok: false; reason: string };

/** Leaves with subleaves worth keeping (cache, features, topology, xsave, frequency, hybrid). */
const SUBLEAF_LEAVES = new Set([0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1f, 0x8000001d, 0x80000020]);
const MAX_SUBLEAF = 8;
/** Caps per range, so a corrupt max-leaf value cannot make the dump endless. */
const MAX_LEAVES_PER_RANGE = 0x40;

function range(cpuid: CpuidSource, base: number, entries: { leaf: number; subleaf: number; regs: CpuidRegs }[]): CpuidRegs | undefined {
  const first = cpuid.leaf(base);
  if (!first.ok) return undefined;
  const max = Math.min(first.regs.eax >>> 0, base + MAX_LEAVES_PER_RANGE);
  for (let leaf = base; leaf <= max; leaf++) {
    const subleaves = SUBLEAF_LEAVES.has(leaf) ? MAX_SUBLEAF : 1;
    for (let subleaf = 0; subleaf < subleaves; subleaf++) {
      const r = cpuid.leaf(leaf, subleaf);
      if (r.ok) entries.push({ leaf, subleaf, regs: r.regs });
    }
  }
  return first.regs;
}

/**
 * Writes CPU 0's CPUID as a `cpuid -r`-style text dump (the format the x86
 * probe reads back from a snapshot): the basic, extended and — when the
 * hypervisor bit is set — hypervisor ranges.
 */
export function liveCpuidDump(view: SystemView): CpuidDump {
  if (!view.live) return { ok: false, reason: "CPUID is read only from a live machine" };
  const opened = openCpuid(view);
  if (!opened.ok) return { ok: false, reason: opened.reason };
  if (opened.cpuid.format !== "device") return { ok: false, reason: "not the cpuid device" };
  const entries: { leaf: number; subleaf: number; regs: CpuidRegs }[] = [];
  range(opened.cpuid, 0, entries);
  const leaf1 = entries.find((e) => e.leaf === 1);
  range(opened.cpuid, 0x80000000, entries);
  if (leaf1 && leaf1.regs.ecx >>> 31 === 1) {
    for (let base = 0x40000000; base <= 0x40000100; base += 0x100) range(opened.cpuid, base, entries);
  }
  if (entries.length === 0) return { ok: false, reason: "no CPUID leaf could be read" };
  return { ok: true, text: formatCpuidR(entries) };
}

/** Ways to write the CPUID dump of a snapshot, tried in order. */
export function cpuidDumpProviders(): ReadonlyArray<(view: SystemView) => CpuidDump> {
  return [liveCpuidDump];
}
