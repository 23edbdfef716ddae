import { fact, FACT, unknownFact, logLineSource, type CapabilityProbe, type Fact, type FactSet, type SystemView } from "@clocksource/core";
import { ARM_CLOCKSOURCES, kernelClocksources, knownArch, knownNotArm } from "./arm-context.js";
import { decodeMidr, implementerName, parseMidrText, partName, hex } from "./cpu-id.js";
import { cpuTypeJson, cpuTypesFromCpuinfo, cpuTypesFromMidrs, cpuTypeName, type CpuType } from "./cpu-types.js";
import { DEVICE_TREE_BASE } from "./device-tree.js";
import { parseTimerLog } from "./timer-log.js";

/** Fact names of the Arm CPU probe. */
export const ARM_CPU_FACT = {
  /** Array of CPU types (see {@link cpuTypeJson}): every distinct implementer/part/variant/revision. */
  cpuTypes: "arm.cpu_types",
} as const;

const CPU_DIR = "sys/devices/system/cpu";

/** Reads `cpuN/regs/identification/midr_el1` for every CPU the snapshot has (arm64 kernels only). */
function sysfsMidrs(view: SystemView): { midrs: Map<number, number>; source: string; problems: string[] } | null {
  const dir = view.list(CPU_DIR);
  if (!dir.ok) return null;
  const midrs = new Map<number, number>();
  const problems: string[] = [];
  let source = "";
  for (const name of dir.value) {
    const m = /^cpu(\d+)$/.exec(name);
    if (!m) continue;
    const r = view.readText(`${CPU_DIR}/${name}/regs/identification/midr_el1`, { maxBytes: 256 });
    if (!r.ok) {
      if (!r.missing) problems.push(`${r.source}: ${r.reason}`);
      continue;
    }
    const v = parseMidrText(r.value);
    if (v === null) problems.push(`${r.source}: malformed (expected 0x followed by hex digits)`);
    else {
      midrs.set(Number(m[1]), v);
      source ||= r.source;
    }
  }
  if (midrs.size === 0 && problems.length === 0) return null;
  return { midrs, source: midrs.size > 1 ? `${view.describe(CPU_DIR)}/cpu*/regs/identification/midr_el1` : source, problems };
}

function vendorAndModel(types: readonly CpuType[], source: string): Fact[] {
  const uniq = (xs: string[]) => [...new Set(xs)];
  const vendors = uniq(types.map((t) => implementerName(t.implementer) ?? `implementer ${hex(t.implementer, 2)}`));
  const models = uniq(types.map((t) => partName(t.implementer, t.part) ?? `${implementerName(t.implementer) ?? hex(t.implementer, 2)} part ${hex(t.part, 3)}`));
  return [
    fact(FACT.cpuVendor, vendors.join(" + "), source, "derived", "implementer code(s) decoded by name"),
    fact(FACT.cpuModel, models.join(" + "), source, "derived", "part number(s) decoded by name"),
  ];
}

/**
 * The Arm CPU probe: every CPU type present (heterogeneous SoCs list each),
 * from `/proc/cpuinfo`, else the per-CPU `midr_el1` files, else the boot
 * CPU's MIDR in the kernel log; `cpu.vendor`/`cpu.model` decoded from them;
 * and the architecture when the core could not tell it but the kernel log or
 * sysfs can.
 */
export class ArmCpuProbe implements CapabilityProbe {
  readonly id = "arm-cpu";

  probe(view: SystemView, known: FactSet): Fact[] {
    if (knownNotArm(known)) return [];
    const out: Fact[] = [];
    const cpuinfo = view.readText("proc/cpuinfo");
    const fromCpuinfo = cpuinfo.ok ? cpuTypesFromCpuinfo(cpuinfo.value) : null;
    const midrs = sysfsMidrs(view);
    const logText = view.kernelLog();
    const log = logText.ok ? parseTimerLog(logText.value) : null;

    // Arch refinement only where the core found nothing.
    if (knownArch(known) === null) {
      if (midrs && midrs.midrs.size > 0) {
        out.push(fact(FACT.arch, "arm64", midrs.source, "derived", "regs/identification/midr_el1 exists only on arm64 kernels"));
      } else if (log?.archHint && logText.ok) {
        out.push(fact(FACT.arch, log.archHint.arch, logLineSource(logText.source, log.archHint.line), "derived", log.archHint.why));
      } else {
        const cs = kernelClocksources(known);
        const armName = cs?.names.find((n) => ARM_CLOCKSOURCES.has(n));
        const dt = view.kind(DEVICE_TREE_BASE);
        if (cs && armName) out.push(fact("arch.family", "arm", `${cs.source} lists ${armName}`, "derived", `${armName} is registered only by Arm kernels; 32- or 64-bit is not known`));
        else if (!fromCpuinfo?.ok && !dt.ok && !log?.banners.length) return out;
      }
    }

    if (fromCpuinfo?.ok && cpuinfo.ok) {
      out.push(fact(ARM_CPU_FACT.cpuTypes, fromCpuinfo.types.map(cpuTypeJson), cpuinfo.source, "definitive", `${fromCpuinfo.types.length} CPU type(s): ${fromCpuinfo.types.map(cpuTypeName).join(", ")}${fromCpuinfo.sharedIdentification ? "; this old 32-bit layout prints one identification (the boot CPU's) for all CPUs" : ""}`));
      out.push(...vendorAndModel(fromCpuinfo.types, cpuinfo.source));
      return out;
    }
    if (midrs && midrs.midrs.size > 0) {
      const types = cpuTypesFromMidrs(midrs.midrs);
      out.push(fact(ARM_CPU_FACT.cpuTypes, types.map(cpuTypeJson), midrs.source, "definitive", `${types.length} CPU type(s) from MIDR_EL1: ${types.map(cpuTypeName).join(", ")}${midrs.problems.length ? `; unreadable: ${midrs.problems.join("; ")}` : ""}`));
      out.push(...vendorAndModel(types, midrs.source));
      return out;
    }
    if (log?.bootMidr && logText.ok) {
      const t: CpuType = { ...decodeMidr(log.bootMidr.value), cpus: [] };
      const src = logLineSource(logText.source, log.bootMidr.line);
      out.push(fact(ARM_CPU_FACT.cpuTypes, [cpuTypeJson(t)], src, "definitive", `the boot CPU only (MIDR 0x${log.bootMidr.value.toString(16).padStart(8, "0")}: ${cpuTypeName(t)}); other CPU types may exist`));
      out.push(...vendorAndModel([t], src));
      return out;
    }
    const reasons: string[] = [];
    if (!cpuinfo.ok) reasons.push(`${cpuinfo.source}: ${cpuinfo.reason}`);
    else if (fromCpuinfo && !fromCpuinfo.ok) reasons.push(`${cpuinfo.source}: ${fromCpuinfo.reason}`);
    if (midrs?.problems.length) reasons.push(...midrs.problems);
    if (!logText.ok) reasons.push(`${logText.source}: ${logText.reason}`);
    else reasons.push(`${logText.source}: no boot-CPU MIDR line`);
    out.push(unknownFact(ARM_CPU_FACT.cpuTypes, cpuinfo.source, reasons.join("; ")));
    return out;
  }
}
