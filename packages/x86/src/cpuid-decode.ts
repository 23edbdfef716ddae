/**
 * Pure decoders of CPUID leaves: vendor, signature, brand, hypervisor
 * signature, KVM features, invariant TSC, TSC frequency. No I/O.
 */
import type { HypervisorName } from "@clocksource/core";
import type { CpuidRegs } from "./cpuid-dump.js";

/** The 12-character string held little-endian in three registers (vendor ids, hypervisor signatures). */
export function registerString(...regs: number[]): string {
  let s = "";
  for (const r of regs) for (let i = 0; i < 4; i++) s += String.fromCharCode((r >>> (8 * i)) & 0xff);
  return s;
}

/** Leaf 0: the vendor id (EBX, EDX, ECX order). */
export function vendorId(leaf0: CpuidRegs): string {
  return registerString(leaf0.ebx, leaf0.edx, leaf0.ecx);
}

/** Leaf 1 EAX decoded as Linux does (`x86_family()`, `x86_model()`). */
export interface CpuSignature {
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
  readonly raw: number;
}

export function cpuSignature(eax: number): CpuSignature {
  const base = (eax >>> 8) & 0xf;
  const family = base === 0xf ? base + ((eax >>> 20) & 0xff) : base;
  let model = (eax >>> 4) & 0xf;
  if (family >= 6) model += ((eax >>> 16) & 0xf) << 4;
  return { family, model, stepping: eax & 0xf, raw: eax >>> 0 };
}

/** Leaves 0x80000002..4: the brand string, NULs removed, trimmed. */
export function brandString(l2: CpuidRegs, l3: CpuidRegs, l4: CpuidRegs): string {
  const s = registerString(l2.eax, l2.ebx, l2.ecx, l2.edx, l3.eax, l3.ebx, l3.ecx, l3.edx, l4.eax, l4.ebx, l4.ecx, l4.edx);
  return s.replace(/\0[\s\S]*$/, "").trim();
}

/** Hypervisor vendor signatures at leaf 0x40000000 (EBX, ECX, EDX), NULs stripped. */
const SIGNATURES: Readonly<Record<string, { name: HypervisorName; what: string }>> = {
  KVMKVMKVM: { name: "kvm", what: "KVM" },
  "Linux KVM Hv": { name: "kvm", what: "KVM's Hyper-V emulation" },
  "Microsoft Hv": { name: "hyperv", what: "Microsoft Hyper-V" },
  VMwareVMware: { name: "vmware", what: "VMware" },
  XenVMMXenVMM: { name: "xen", what: "Xen" },
  TCGTCGTCGTCG: { name: "qemu", what: "QEMU TCG (no KVM)" },
  "bhyve bhyve ": { name: "bhyve", what: "bhyve" },
  ACRNACRNACRN: { name: "acrn", what: "ACRN" },
  VBoxVBoxVBox: { name: "virtualbox", what: "VirtualBox" },
  QNXQVMBSQG: { name: "other", what: "QNX hypervisor" },
};

/** The 0x40000000-range signature string (EBX, ECX, EDX), trailing NULs removed. */
export function hypervisorSignature(regs: CpuidRegs): string {
  return registerString(regs.ebx, regs.ecx, regs.edx).replace(/\0+$/, "");
}

/** Maps a signature to a report hypervisor name; unknown printable signatures are `other`, garbage is null. */
export function hypervisorFromSignature(sig: string): { name: HypervisorName; what: string } | null {
  const known = SIGNATURES[sig];
  if (known) return known;
  if (sig.length >= 4 && /^[\x20-\x7e]+$/.test(sig)) return { name: "other", what: `unrecognised signature ${JSON.stringify(sig)}` };
  return null;
}

/** KVM paravirtual feature bits of leaf 0x40000001 EAX (`Documentation/virt/kvm/x86/cpuid.rst`). */
const KVM_FEATURE_BITS: Readonly<Record<number, string>> = {
  0: "clocksource",
  1: "nop_io_delay",
  2: "mmu_op",
  3: "clocksource2",
  4: "async_pf",
  5: "steal_time",
  6: "pv_eoi",
  7: "pv_unhalt",
  9: "pv_tlb_flush",
  10: "async_pf_vmexit",
  11: "pv_send_ipi",
  12: "poll_control",
  13: "pv_sched_yield",
  14: "async_pf_int",
  15: "msi_ext_dest_id",
  16: "hc_map_gpa_range",
  17: "migration_control",
  24: "clocksource_stable_bit",
};

/** KVM feature names set in leaf 0x40000001 (EAX features; EDX bit 0 is the `realtime` hint). */
export function kvmFeatures(regs: CpuidRegs): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (((regs.eax >>> bit) & 1) === 0) continue;
    out.push(KVM_FEATURE_BITS[bit] ?? `bit${bit}`);
  }
  if (regs.edx & 1) out.push("hint_realtime");
  return out;
}

/**
 * Crystal clocks of Intel parts whose leaf 0x15 gives the TSC/crystal ratio
 * but not the crystal frequency. Learned from the kernel's
 * `native_calibrate_tsc()` (its current Denverton entry and the table it had
 * before switching Skylake/Kaby Lake client parts to leaf 0x16) and from
 * turbostat (Skylake-SP). Family 6 model → crystal Hz.
 */
export const KNOWN_CRYSTAL_HZ: ReadonlyMap<number, { hz: number; parts: string }> = new Map([
  [0x4e, { hz: 24_000_000, parts: "Skylake client (mobile)" }],
  [0x5e, { hz: 24_000_000, parts: "Skylake client (desktop)" }],
  [0x8e, { hz: 24_000_000, parts: "Kaby Lake / Coffee Lake (mobile)" }],
  [0x9e, { hz: 24_000_000, parts: "Kaby Lake / Coffee Lake (desktop)" }],
  [0x5f, { hz: 25_000_000, parts: "Denverton (Goldmont-D)" }],
  [0x5c, { hz: 19_200_000, parts: "Apollo Lake (Goldmont)" }],
  [0x55, { hz: 25_000_000, parts: "Skylake-SP / Cascade Lake (turbostat)" }],
]);

/** A TSC frequency derived from CPUID, with how it was computed. */
export interface CpuidTscFrequency {
  readonly hz: number;
  readonly method: "crystal" | "known-crystal" | "base-frequency";
  readonly detail: string;
}

/**
 * TSC frequency from leaves 0x15/0x16 the way the kernel computes it:
 * `crystal × EBX / EAX`; with no crystal, the model's known crystal; else the
 * crystal estimated from leaf 0x16's base MHz (the kernel's integer kHz math).
 * Returns the candidates strongest first; empty when the leaves say nothing.
 */
export function tscFrequencyCandidates(leaf15: CpuidRegs | undefined, leaf16: CpuidRegs | undefined, sig: CpuSignature | undefined, intel: boolean): { candidates: CpuidTscFrequency[]; why: string } {
  if (!leaf15) return { candidates: [], why: "leaf 0x15 is not available" };
  const den = leaf15.eax >>> 0;
  const num = leaf15.ebx >>> 0;
  if (den === 0 || num === 0) return { candidates: [], why: `leaf 0x15 gives no TSC/crystal ratio (EAX=${den}, EBX=${num})` };
  const ratio = `${num}/${den}`;
  const out: CpuidTscFrequency[] = [];
  const crystal = leaf15.ecx >>> 0;
  if (crystal !== 0) {
    // Exact: integer arithmetic, floor as the hardware ratio is exact.
    out.push({ hz: Number((BigInt(crystal) * BigInt(num)) / BigInt(den)), method: "crystal", detail: `crystal ${crystal} Hz × ${ratio}` });
    return { candidates: out, why: "" };
  }
  const known = intel && sig?.family === 6 ? KNOWN_CRYSTAL_HZ.get(sig.model) : undefined;
  if (known) out.push({ hz: Number((BigInt(known.hz) * BigInt(num)) / BigInt(den)), method: "known-crystal", detail: `crystal not enumerated; ${known.parts} (family 6 model 0x${sig?.model.toString(16)}) has a ${known.hz / 1e6} MHz crystal; × ${ratio}` });
  const baseMhz = leaf16 ? leaf16.eax & 0xffff : 0;
  if (baseMhz !== 0) {
    const crystalKhz = Math.floor((baseMhz * 1000 * den) / num);
    const khz = Math.floor((crystalKhz * num) / den);
    out.push({ hz: khz * 1000, method: "base-frequency", detail: `crystal not enumerated; estimated from leaf 0x16 base ${baseMhz} MHz as the kernel does (crystal ${crystalKhz} kHz × ${ratio})` });
  }
  const why = out.length ? "" : `leaf 0x15 gives the ratio ${ratio} but no crystal frequency, leaf 0x16 gives no base frequency${sig ? `, and family ${sig.family} model 0x${sig.model.toString(16)} has no known crystal` : ""}`;
  return { candidates: out, why };
}
