import { machine } from "node:os";
import { fact, unknownFact, type Fact } from "../facts.js";
import { kernelLogLines, logLineSource, type KernelLogLine } from "../kernel-log.js";
import { FACT, type ArchName } from "../fact-names.js";
import type { CapabilityProbe } from "../probe.js";
import type { SystemView } from "../system-view.js";
import { cpuinfoValue, cpuinfoWords, parseCpuinfo } from "./cpuinfo.js";

const UNAME: Record<string, ArchName> = {
  x86_64: "x86_64", amd64: "x86_64", i386: "x86", i486: "x86", i586: "x86", i686: "x86",
  aarch64: "arm64", arm64: "arm64", aarch64_be: "arm64",
};

/** Maps `uname -m` to the report's architecture names. */
export function archFromUname(m: string): ArchName {
  if (m in UNAME) return UNAME[m] as ArchName;
  if (/^armv\d/.test(m) || m === "arm") return "arm";
  return "unknown";
}

/**
 * Infers the kernel's architecture from `/proc/cpuinfo`. The CPU's abilities
 * are not enough (a 32-bit kernel on a 64-bit CPU), so this looks at what
 * each kernel prints: i386 kernels add `fdiv_bug`/`f00f_bug` lines; arm64
 * kernels list `asimd`/`fp` in Features while 32-bit Arm kernels list
 * `half`/`thumb`/`vfp`.
 */
export function archFromCpuinfo(text: string): { arch: ArchName; why: string } | { arch: null; why: string } {
  const blocks = parseCpuinfo(text);
  if (blocks.length === 0) return { arch: null, why: "no `key : value` lines" };
  const flags = cpuinfoWords(blocks, "flags");
  const vendor = cpuinfoValue(blocks, "vendor_id");
  if (flags || vendor) {
    if (cpuinfoValue(blocks, "fdiv_bug") !== undefined || cpuinfoValue(blocks, "f00f_bug") !== undefined) {
      return { arch: "x86", why: "x86 CPU; `fdiv_bug`/`f00f_bug` lines are printed only by 32-bit kernels" };
    }
    if (flags?.has("lm")) return { arch: "x86_64", why: "x86 CPU with the `lm` flag and no 32-bit-kernel-only lines" };
    return { arch: "x86", why: "x86 CPU without the `lm` (long mode) flag" };
  }
  const features = cpuinfoWords(blocks, "features");
  const procName = `${cpuinfoValue(blocks, "processor") ?? ""} ${cpuinfoValue(blocks, "model name") ?? ""}`;
  if (/aarch64/i.test(procName) || features?.has("asimd")) return { arch: "arm64", why: "Arm CPU with arm64-kernel features (`asimd`) or an AArch64 processor name" };
  if (features && ["half", "thumb", "vfp", "swp", "fastmult"].some((f) => features.has(f))) {
    return { arch: "arm", why: "Arm CPU with 32-bit-kernel features (`half`/`thumb`/`vfp`)" };
  }
  if (/ARMv\d/i.test(procName) || cpuinfoValue(blocks, "cpu implementer") !== undefined) {
    return { arch: "arm", why: "Arm CPU named ARMv<n> without arm64 features" };
  }
  return { arch: null, why: "names neither an x86 nor an Arm CPU" };
}

/** The architecture: `uname -m` on the live machine, otherwise inferred from the snapshot's files. */
export class ArchProbe implements CapabilityProbe {
  readonly id = "arch";

  probe(view: SystemView): Fact[] {
    const out: Fact[] = [];
    if (view.live) {
      const m = machine();
      const arch = archFromUname(m);
      out.push(arch === "unknown" ? unknownFact(FACT.arch, "uname -m", `unsupported machine type ${m}`) : fact(FACT.arch, arch, `uname -m = ${m}`, "definitive"));
    }
    const cpuinfo = view.readText("proc/cpuinfo");
    if (cpuinfo.ok) {
      const r = archFromCpuinfo(cpuinfo.value);
      out.push(r.arch ? fact(FACT.arch, r.arch, cpuinfo.source, "derived", r.why) : unknownFact(FACT.arch, cpuinfo.source, r.why));
      out.push(...cpuIdentity(cpuinfo.value, cpuinfo.source));
    } else {
      out.push(unknownFact(FACT.arch, cpuinfo.source, cpuinfo.reason));
    }
    if (!view.live) out.push(...archFromKernelLog(view));
    // The cpuid driver exists only on x86: a dump there says x86, though not the kernel's word size.
    const cpuid = view.kind("dev/cpu/0/cpuid");
    if (cpuid.ok && !out.some((f) => f.confidence !== "unknown")) {
      out.push(fact("arch.family", "x86", cpuid.source, "derived", "the cpuid device/dump exists only on x86"));
    }
    return out;
  }
}

/** CPU vendor and model as `/proc/cpuinfo` names them (x86 `vendor_id`/`model name`; Arm `model name`/`Processor`/`Hardware`). */
function cpuIdentity(text: string, source: string): Fact[] {
  const blocks = parseCpuinfo(text);
  const out: Fact[] = [];
  const vendor = cpuinfoValue(blocks, "vendor_id");
  if (vendor) out.push(fact(FACT.cpuVendor, vendor, `${source} (vendor_id)`, "definitive"));
  const model = cpuinfoValue(blocks, "model name") ?? (cpuinfoValue(blocks, "processor")?.match(/[A-Za-z]/) ? cpuinfoValue(blocks, "processor") : undefined) ?? cpuinfoValue(blocks, "hardware");
  if (model) out.push(fact(FACT.cpuModel, model, `${source} (model name)`, "definitive"));
  return out;
}

/**
 * The x86 kernel's word size from its boot log: `Linux version … .x86_64`/`.i686`
 * in the banner, or — once the log shows x86 (e820 memory map, x86/fpu lines) —
 * a DMA32 zone (64-bit kernels only) or a HighMem zone (32-bit kernels only).
 * Arm logs are the Arm package's business.
 */
function archFromKernelLog(view: SystemView): Fact[] {
  const log = view.kernelLog();
  if (!log.ok) return [];
  let x86Line: KernelLogLine | undefined;
  let wide: KernelLogLine | undefined;
  let narrow: KernelLogLine | undefined;
  for (const line of kernelLogLines(log.value)) {
    const banner = /^Linux version \S*?\.(x86_64|i[3-6]86)\b/.exec(line.message);
    if (banner) return [fact(FACT.arch, banner[1] === "x86_64" ? "x86_64" : "x86", logLineSource(log.source, line), "derived", "the kernel's build names its architecture")];
    if (!x86Line && /^(?:BIOS-e820:|e820: |x86\/fpu: |x86: )/.test(line.message)) x86Line = line;
    if (!wide && /^\s*DMA32\s/.test(line.message)) wide = line;
    if (!narrow && /^\s*HighMem\s/.test(line.message)) narrow = line;
  }
  if (x86Line && wide) return [fact(FACT.arch, "x86_64", logLineSource(log.source, wide), "derived", `an x86 kernel (${logLineSource(log.source, x86Line)}) with a DMA32 zone, which only 64-bit x86 kernels have`)];
  if (x86Line && narrow) return [fact(FACT.arch, "x86", logLineSource(log.source, narrow), "derived", `an x86 kernel (${logLineSource(log.source, x86Line)}) with a HighMem zone, which only 32-bit x86 kernels have`)];
  return [];
}
