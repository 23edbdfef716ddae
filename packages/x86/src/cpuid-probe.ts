import { FACT, fact, unknownFact, type CapabilityProbe, type Fact, type FactSet, type SystemView } from "@clocksource/core";
import { brandString, cpuSignature, hypervisorFromSignature, hypervisorSignature, kvmFeatures, tscFrequencyCandidates, vendorId } from "./cpuid-decode.js";
import type { CpuidRegs } from "./cpuid-dump.js";
import { openCpuid, type CpuidSource } from "./cpuid-source.js";
import { X86_FACT, isX86Machine } from "./x86-facts.js";

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;

/** Reads a leaf if the CPU implements it (≤ the range's maximum); otherwise undefined. */
function leafIf(cpuid: CpuidSource, leaf: number, max: number | undefined): { regs: CpuidRegs; source: string } | undefined {
  if (max === undefined || (leaf >>> 0) > (max >>> 0)) return undefined;
  const r = cpuid.leaf(leaf);
  return r.ok ? { regs: r.regs, source: r.source } : undefined;
}

/**
 * Facts from CPUID (the live `/dev/cpu/0/cpuid` device or a snapshot's dump):
 * vendor, family/model/stepping, brand, the hypervisor bit and signature, KVM
 * features, invariant TSC and the TSC frequency leaves. Pure over the view.
 */
export function cpuidFacts(cpuid: CpuidSource, known: FactSet): Fact[] {
  const out: Fact[] = [];
  const l0 = cpuid.leaf(0);
  if (!l0.ok) return [unknownFact(X86_FACT.cpuid, l0.source, l0.reason)];
  const maxBasic = l0.regs.eax >>> 0;
  const vendor = vendorId(l0.regs);
  const intel = vendor === "GenuineIntel";
  out.push(fact(FACT.x86Vendor, vendor, `${l0.source} EBX,EDX,ECX`, "definitive"));
  out.push(fact(FACT.cpuVendor, vendor, `${l0.source} EBX,EDX,ECX`, "definitive"));

  const l1 = leafIf(cpuid, 1, maxBasic);
  let sig: ReturnType<typeof cpuSignature> | undefined;
  let hypervisorBit = false;
  if (l1) {
    sig = cpuSignature(l1.regs.eax);
    out.push(fact(X86_FACT.family, sig.family, `${l1.source} EAX[11:8,27:20]`, "definitive"));
    out.push(fact(X86_FACT.model, sig.model, `${l1.source} EAX[7:4,19:16]`, "definitive"));
    out.push(fact(X86_FACT.stepping, sig.stepping, `${l1.source} EAX[3:0]`, "definitive"));
    hypervisorBit = ((l1.regs.ecx >>> 31) & 1) === 1;
    out.push(
      hypervisorBit
        ? fact(FACT.hypervisorPresent, true, `${l1.source} ECX[31]`, "definitive", "the hypervisor-present bit is set")
        : fact(FACT.hypervisorPresent, false, `${l1.source} ECX[31]`, "derived", "the hypervisor-present bit is clear (a hypervisor can hide it, so not definitive)"),
    );
  } else {
    out.push(unknownFact(X86_FACT.family, cpuid.describe, "leaf 1 is not available"));
  }

  const lExt = cpuid.leaf(0x80000000);
  const maxExt = lExt.ok && lExt.regs.eax >>> 0 >= 0x80000000 && lExt.regs.eax >>> 0 <= 0x8000ffff ? lExt.regs.eax >>> 0 : undefined;
  const b2 = leafIf(cpuid, 0x80000002, maxExt);
  const b3 = leafIf(cpuid, 0x80000003, maxExt);
  const b4 = leafIf(cpuid, 0x80000004, maxExt);
  if (b2 && b3 && b4) {
    const brand = brandString(b2.regs, b3.regs, b4.regs);
    if (brand.length > 0) {
      out.push(fact(X86_FACT.brand, brand, `${cpuid.describe} leaves 0x80000002-0x80000004`, "definitive"));
      out.push(fact(FACT.cpuModel, brand, `${cpuid.describe} leaves 0x80000002-0x80000004`, "definitive"));
    }
  }
  const e1 = leafIf(cpuid, 0x80000001, maxExt);
  if (e1 && known.best(FACT.arch) === undefined) {
    const lm = ((e1.regs.edx >>> 29) & 1) === 1;
    out.push(
      lm
        ? fact(FACT.arch, "x86_64", `${e1.source} EDX[29]`, "heuristic", "the CPU supports long mode; the kernel could still be 32-bit")
        : fact(FACT.arch, "x86", `${e1.source} EDX[29]`, "derived", "the CPU has no long mode, so the kernel is 32-bit"),
    );
  }

  // Invariant TSC: leaf 0x80000007 EDX[8].
  const pm = leafIf(cpuid, 0x80000007, maxExt);
  if (pm) {
    const inv = ((pm.regs.edx >>> 8) & 1) === 1;
    out.push(fact(FACT.x86InvariantTsc, inv, `${pm.source} EDX[8]`, "definitive", inv ? "invariant TSC enumerated" : "invariant TSC bit clear"));
  } else if (maxExt !== undefined) {
    out.push(fact(FACT.x86InvariantTsc, false, `${cpuid.describe} leaf 0x80000000 EAX=${hex(maxExt)}`, "derived", "the CPU does not implement leaf 0x80000007, so it enumerates no invariant TSC"));
  } else {
    out.push(unknownFact(FACT.x86InvariantTsc, cpuid.describe, "leaf 0x80000007 is not available"));
  }

  // TSC frequency from the basic leaves.
  const l15 = leafIf(cpuid, 0x15, maxBasic);
  const l16 = leafIf(cpuid, 0x16, maxBasic);
  const freq = tscFrequencyCandidates(l15?.regs, l16?.regs, sig, intel);
  for (const c of freq.candidates) {
    const src = c.method === "base-frequency" ? `${l15?.source} + ${l16?.source}` : (l15?.source as string);
    const confidence = c.method === "crystal" ? "definitive" : c.method === "known-crystal" ? "derived" : "heuristic";
    out.push(fact(FACT.x86TscFrequencyHz, c.hz, src, confidence, c.detail));
  }
  if (freq.candidates.length === 0 && l15) out.push(unknownFact(FACT.x86TscFrequencyHz, l15.source, freq.why));

  // Hypervisor leaves exist only when the hypervisor bit is set (otherwise they alias other leaves).
  if (hypervisorBit) out.push(...hypervisorLeafFacts(cpuid));
  return out;
}

/**
 * The hypervisor signature at 0x40000000, plus KVM's own at 0x40000100 and up
 * (where KVM puts it when it also emulates Hyper-V at the base), KVM features
 * and the hypervisor-declared TSC frequency (leaf base+0x10, in kHz).
 */
function hypervisorLeafFacts(cpuid: CpuidSource): Fact[] {
  const out: Fact[] = [];
  const bases: { base: number; regs: CpuidRegs; source: string; sig: string }[] = [];
  for (let base = 0x40000000; base <= 0x40000f00; base += 0x100) {
    const r = cpuid.leaf(base);
    if (!r.ok) {
      if (base === 0x40000000) out.push(unknownFact(FACT.hypervisor, r.source, `the hypervisor bit is set but ${r.reason}`));
      break;
    }
    const sig = hypervisorSignature(r.regs);
    const hv = hypervisorFromSignature(sig);
    // Above the base only a known signature counts: unimplemented leaves alias other leaves' values.
    if (!hv || (base !== 0x40000000 && hv.what.startsWith("unrecognised"))) break;
    bases.push({ base, regs: r.regs, source: r.source, sig });
  }
  if (bases.length === 0) return out;
  const kvm = bases.find((b) => b.sig === "KVMKVMKVM");
  const first = bases[0] as (typeof bases)[number];
  out.push(fact(X86_FACT.hypervisorSignature, first.sig, `${first.source} EBX,ECX,EDX`, "definitive"));
  const chosen = kvm ?? first;
  const hv = hypervisorFromSignature(chosen.sig) as NonNullable<ReturnType<typeof hypervisorFromSignature>>;
  const note = kvm && kvm !== first ? `${hv.what}; the ${JSON.stringify(first.sig)} interface at 0x40000000 is KVM's emulation` : hv.what;
  out.push(fact(FACT.hypervisor, hv.name, `${chosen.source} EBX,ECX,EDX = ${JSON.stringify(chosen.sig)}`, "definitive", note));
  // KVM reports a max leaf of 0 on old hosts, meaning base+1.
  const maxLeaf = (chosen.regs.eax >>> 0) === 0 && chosen === kvm ? chosen.base + 1 : chosen.regs.eax >>> 0;
  if (hv.name === "hyperv" && chosen.sig === "Microsoft Hv") {
    // Partition privileges: only the root partition — the one that hosts the
    // others, as Xen's dom0 does — may create partitions.
    const p = leafIf(cpuid, chosen.base + 3, maxLeaf);
    if (p) {
      const root = (p.regs.ebx & 1) === 1;
      out.push(fact(FACT.role, root ? "host" : "guest", `${p.source} EBX[0] (CreatePartitions)`, "definitive", root ? "the Hyper-V root partition: it hosts the other partitions" : "a Hyper-V child partition"));
    }
  }
  if (kvm) {
    const f = leafIf(cpuid, kvm.base + 1, maxLeaf);
    if (f) out.push(fact(X86_FACT.kvmFeatures, kvmFeatures(f.regs), `${f.source} EAX,EDX`, "definitive"));
  }
  const tscLeaf = chosen.base + 0x10;
  const t = leafIf(cpuid, tscLeaf, maxLeaf);
  if (t) {
    const khz = t.regs.eax >>> 0;
    out.push(khz > 0 ? fact(FACT.x86TscFrequencyHz, khz * 1000, `${t.source} EAX`, "definitive", "declared by the hypervisor in kHz (kHz resolution)") : unknownFact(FACT.x86TscFrequencyHz, `${t.source} EAX`, "the hypervisor's TSC-frequency leaf is 0"));
  }
  return out;
}

/** CPUID of CPU 0 — device live, dump in a snapshot. */
export class CpuidProbe implements CapabilityProbe {
  readonly id = "x86-cpuid";

  probe(view: SystemView, known: FactSet): Fact[] {
    const opened = openCpuid(view);
    if (!opened.ok) {
      // On a machine that is not x86 the absence of CPUID is no news.
      return isX86Machine(known) ? [unknownFact(X86_FACT.cpuid, opened.source, opened.reason)] : [];
    }
    return cpuidFacts(opened.cpuid, known);
  }
}
