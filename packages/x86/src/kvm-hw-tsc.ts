/**
 * Whether the CPU can offset and scale a KVM guest's TSC in hardware, from
 * `/proc/cpuinfo`:
 * - Intel VMX: the `vmx flags` line (kernels 5.8+) lists `tsc_offset` (the
 *   primary processor-based control "use TSC offsetting") and `tsc_scaling`
 *   (the secondary control "use TSC scaling"). KVM refuses a VMX CPU without
 *   TSC offsetting, so with `kvm_intel` there and no `vmx flags` line it is
 *   still known; scaling is not.
 * - AMD SVM: the VMCB's TSC offset is part of SVM itself (there is no flag for
 *   it); scaling is `tsc_scale` (CPUID 0x8000000A EDX[4], the TSC ratio MSR),
 *   used by KVM unless `kvm_amd`'s `tsc_scaling` parameter turned it off.
 * - Neither (PVM, or a guest without nested virtualization): nothing in
 *   hardware offsets or scales a guest's TSC.
 */
import { cpuinfoWords, fact, FACT, parseCpuinfo, type Fact } from "@clocksource/core";
import { parseBool, type KvmModule } from "./kvm-modules.js";

/** What the modules add to the CPU's flags. */
export interface KvmHwContext {
  /** The KVM modules present (any of `kvm`, `kvm_intel`, `kvm_amd`, `kvm_pvm`). */
  readonly modules: readonly KvmModule[];
  /** How `sys/module/kvm_amd/parameters/tsc_scaling` is named in a fact source. */
  readonly amdScalingSource: string;
}

/**
 * The hardware TSC offsetting and scaling facts from `/proc/cpuinfo` text.
 * Nothing when the CPU has neither VMX nor SVM and no KVM module is present
 * (not a KVM host, nothing to say).
 */
export function kvmHardwareTscFacts(text: string, source: string, ctx: KvmHwContext): Fact[] {
  const blocks = parseCpuinfo(text);
  const flags = cpuinfoWords(blocks, "flags");
  if (!flags) return [];
  const names = new Set(ctx.modules.map((m) => m.name));
  if (flags.has("vmx")) return vmxFacts(cpuinfoWords(blocks, "vmx flags"), source, names.has("kvm_intel"));
  if (flags.has("svm")) return svmFacts(flags, source, ctx);
  if (names.size === 0) return [];
  const pvm = names.has("kvm_pvm");
  const src = `${source} flags (neither vmx nor svm)`;
  const cause = pvm ? "PVM runs guests without VMX or SVM" : "no VMX or SVM on this CPU (nested virtualization not exposed?)";
  return [
    fact(FACT.x86KvmTscOffsetting, false, src, "derived", `${cause}: nothing in hardware offsets a guest's TSC${pvm ? " (a PVM guest reads the host's TSC; KVM's debugfs tsc-offset reads 0)" : ""}`),
    fact(FACT.x86KvmTscScaling, false, src, "derived", `${cause}: nothing in hardware scales a guest's TSC (guests run at the host's TSC rate)`),
  ];
}

function vmxFacts(vmxFlags: Set<string> | undefined, source: string, kvmIntel: boolean): Fact[] {
  if (!vmxFlags) {
    return [
      kvmIntel
        ? fact(FACT.x86KvmTscOffsetting, true, `${source} flags vmx, kvm_intel present`, "derived", "no `vmx flags` line (kernels before 5.8 do not print it), but kvm_intel loads only on CPUs with the TSC-offsetting control")
        : fact(FACT.x86KvmTscOffsetting, true, `${source} flags vmx`, "heuristic", "no `vmx flags` line (kernels before 5.8 do not print it); every VMX CPU KVM supports has the TSC-offsetting control"),
      { name: FACT.x86KvmTscScaling, value: null, source: `${source} flags vmx`, confidence: "unknown", reason: "no `vmx flags` line (kernels before 5.8 do not print it): TSC scaling cannot be told" },
    ];
  }
  const offset = vmxFlags.has("tsc_offset");
  const scale = vmxFlags.has("tsc_scaling");
  return [
    offset
      ? fact(FACT.x86KvmTscOffsetting, true, `${source} vmx flags tsc_offset`, "definitive", "the VMX control \"use TSC offsetting\"")
      : fact(FACT.x86KvmTscOffsetting, false, `${source} vmx flags tsc_offset`, "derived", "tsc_offset not listed: KVM cannot run guests on this CPU"),
    scale
      ? fact(FACT.x86KvmTscScaling, true, `${source} vmx flags tsc_scaling`, "definitive", "the VMX control \"use TSC scaling\" (ratio with 48 fractional bits)")
      : fact(FACT.x86KvmTscScaling, false, `${source} vmx flags tsc_scaling`, "derived", "tsc_scaling not listed: guests run at the host's TSC rate"),
  ];
}

function svmFacts(flags: Set<string>, source: string, ctx: KvmHwContext): Fact[] {
  const out: Fact[] = [fact(FACT.x86KvmTscOffsetting, true, `${source} flags svm`, "derived", "the VMCB's TSC offset is part of SVM itself (no feature flag)")];
  const hw = flags.has("tsc_scale");
  const param = ctx.modules.find((m) => m.name === "kvm_amd")?.parameters.tsc_scaling;
  const enabled = param === undefined ? null : parseBool(param) ?? (/^-?[0-9]+$/.test(param) ? param !== "0" : null);
  if (!hw) {
    out.push(fact(FACT.x86KvmTscScaling, false, `${source} flags tsc_scale`, "derived", "tsc_scale not listed (no TSC ratio MSR): guests run at the host's TSC rate"));
  } else if (enabled === false) {
    out.push(fact(FACT.x86KvmTscScaling, false, `${source} flags tsc_scale; ${ctx.amdScalingSource} = ${param}`, "derived", "the CPU can scale (tsc_scale), but kvm_amd's tsc_scaling parameter turned it off: guests run at the host's TSC rate"));
  } else {
    const by = enabled === true ? `; ${ctx.amdScalingSource} = ${param}` : "";
    out.push(fact(FACT.x86KvmTscScaling, true, `${source} flags tsc_scale${by}`, "definitive", "the TSC ratio MSR (CPUID 0x8000000A EDX[4]; ratio with 32 fractional bits)"));
  }
  return out;
}
