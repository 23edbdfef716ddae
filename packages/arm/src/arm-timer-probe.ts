import {
  cpuinfoValue,
  cpuinfoWords,
  fact,
  FACT,
  logLineSource,
  parseCpuinfo,
  unknownFact,
  type CapabilityProbe,
  type Confidence,
  type Fact,
  type FactSet,
  type FactValue,
  type SystemView,
} from "@clocksource/core";
import { GTDT_PATH, parseGtdt, type Gtdt } from "./acpi-gtdt.js";
import { ARM_CLOCKSOURCES, kernelClocksources, knownArch, knownNotArm } from "./arm-context.js";
import { ARM_CPU_FACT } from "./arm-cpu-probe.js";
import { parseBogomipsHundredths, rateFromBogomipsHundredths } from "./bogomips.js";
import { kernelCounterWidth, rateAboveWidth } from "./counter-width.js";
import { coreHasGenericTimer, hex } from "./cpu-id.js";
import { defaultArmCounterReader } from "./default-reader.js";
import { findDeviceTreeTimers, type ArchTimerNode, type DeviceTreeTimers } from "./dt-timer.js";
import { COUNTER_ERRATA, erratumForCpu, erratumForGtdtOem, erratumForLogText, type CounterErratum } from "./errata.js";
import { ARM_FACT } from "./fact-names.js";
import { orderFrequencyCandidates, type FrequencyCandidate } from "./frequency.js";
import type { ArmCounterReader } from "./native-reader.js";
import { parseTimerLog, schedClockMatchesRate, type TimerBanner, type TimerLog } from "./timer-log.js";

/** What each kernel clocksource name on an Arm machine is. */
export function describeKernelTimer(name: string): { kind: string; description: string } {
  switch (name) {
    case "arch_sys_counter":
      return { kind: "generic-timer-cp15", description: "the architected generic timer's system counter, read through CP15/system registers (CNTVCT/CNTPCT)" };
    case "arch_mem_counter":
      return { kind: "generic-timer-mmio", description: "the generic timer's memory-mapped counter frame, not the CP15 counter: user space cannot read it with mrs" };
    case "arm_global_timer":
      return { kind: "cortex-a9-global-timer", description: "the Cortex-A9/A5 MPCore global timer (memory-mapped), not the architected generic timer" };
    case "jiffies":
    case "refined-jiffies":
      return { kind: "jiffies", description: "the tick counter: no hardware clocksource was registered" };
    default:
      return { kind: "vendor-timer", description: "a board or vendor timer, not the architected generic timer" };
  }
}

interface CpuTypeRef {
  readonly implementer: number;
  readonly part: number;
  readonly name: string;
}

function cpuTypesFromFacts(known: FactSet): { types: CpuTypeRef[]; source: string } | null {
  const f = known.best(ARM_CPU_FACT.cpuTypes);
  if (!f || !Array.isArray(f.value)) return null;
  const types: CpuTypeRef[] = [];
  for (const v of f.value as FactValue[]) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
    const o = v as { [k: string]: FactValue };
    const implementer = Number(o.implementer);
    const part = Number(o.part);
    if (Number.isInteger(implementer) && Number.isInteger(part)) types.push({ implementer, part, name: typeof o.name === "string" ? o.name : `${hex(implementer, 2)}/${hex(part, 3)}` });
  }
  return { types, source: f.source };
}

/** The inputs the timer probe reads, gathered once. */
interface Evidence {
  readonly view: SystemView;
  readonly arch: string | null;
  readonly archSource: string | null;
  readonly cpuinfo: { readonly ok: true; readonly source: string; readonly text: string } | { readonly ok: false; readonly source: string; readonly reason: string };
  readonly cpuTypes: { types: CpuTypeRef[]; source: string } | null;
  readonly dt: DeviceTreeTimers;
  readonly gtdt: { readonly present: boolean; readonly source: string; readonly table: Gtdt | null; readonly note: string | null; readonly acpiPresent: boolean };
  readonly clocksources: ReturnType<typeof kernelClocksources>;
  readonly current: { name: string; source: string; confidence: Exclude<Confidence, "unknown"> } | null;
  readonly log: { readonly ok: true; readonly source: string; readonly parsed: TimerLog } | { readonly ok: false; readonly source: string; readonly reason: string };
  readonly live: { readonly readable: boolean | null; readonly note: string; readonly source: string; readonly cntfrq: bigint | null };
}

/** The enabled architected-timer node the kernel would bind (the first in the walk), else the first one. */
function chosenNode(dt: DeviceTreeTimers): ArchTimerNode | undefined {
  return dt.archTimers.find((n) => n.enabled === true) ?? dt.archTimers[0];
}

function firstCp15Banner(log: Evidence["log"]): TimerBanner | undefined {
  if (!log.ok) return undefined;
  return log.parsed.banners.find((b) => b.timers !== "mmio") ?? log.parsed.banners[0];
}

const lineSrc = (ev: Evidence, line: { lineNumber: number; message: string; uptime: number | null }) => logLineSource(ev.log.source, line);

function gather(view: SystemView, known: FactSet, reader: ArmCounterReader): Evidence {
  const archFact = known.best(FACT.arch);
  const cpuinfoRead = view.readText("proc/cpuinfo");
  const logRead = view.kernelLog();
  const dt = findDeviceTreeTimers(view);
  const gtdtKind = view.kind(GTDT_PATH);
  let gtdt: Evidence["gtdt"];
  const acpiPresent = view.kind("sys/firmware/acpi/tables").ok;
  if (gtdtKind.ok) {
    const bytes = view.readBytes(GTDT_PATH, { maxBytes: 64 * 1024 });
    if (bytes.ok) {
      const parsed = parseGtdt(bytes.value);
      gtdt = { present: true, source: gtdtKind.source, table: parsed.ok ? parsed.value : null, note: parsed.ok ? null : `malformed: ${parsed.reason}`, acpiPresent };
    } else {
      gtdt = { present: true, source: gtdtKind.source, table: null, note: `exists but unreadable: ${bytes.reason}`, acpiPresent };
    }
  } else {
    gtdt = { present: false, source: gtdtKind.source, table: null, note: gtdtKind.missing ? null : gtdtKind.reason, acpiPresent };
  }
  const log: Evidence["log"] = logRead.ok ? { ok: true, source: logRead.source, parsed: parseTimerLog(logRead.value) } : { ok: false, source: logRead.source, reason: logRead.reason };
  const curFact = known.best(FACT.kernelClocksourceCurrent);
  let current: Evidence["current"] = curFact && typeof curFact.value === "string" ? { name: curFact.value, source: curFact.source, confidence: curFact.confidence as Exclude<Confidence, "unknown"> } : null;
  if (!current && log.ok) {
    const last = log.parsed.clocksourceSwitches.at(-1);
    if (last) current = { name: last.name, source: logLineSource(log.source, last.line), confidence: "derived" };
  }
  let live: Evidence["live"];
  if (!view.live) {
    live = { readable: null, note: "a snapshot: CNTVCT_EL0 can be read only on the machine itself", source: "native reader", cntfrq: null };
  } else if (reader.unavailable) {
    live = { readable: null, note: reader.unavailable, source: "native reader", cntfrq: null };
  } else {
    try {
      const v = reader.readCntvct();
      let cntfrq: bigint | null = null;
      let frqNote = "";
      try {
        cntfrq = reader.readCntfrq();
        if (cntfrq === null) frqNote = "; the reader has no cntfrq_el0 path";
      } catch (e) {
        frqNote = `; reading CNTFRQ_EL0 failed: ${(e as Error)?.message ?? String(e)}`;
      }
      live = { readable: true, note: `read CNTVCT_EL0 = ${v}${frqNote}`, source: "native reader (mrs cntvct_el0)", cntfrq };
    } catch (e) {
      live = { readable: false, note: `reading CNTVCT_EL0 failed: ${(e as Error)?.message ?? String(e)}`, source: "native reader (mrs cntvct_el0)", cntfrq: null };
    }
  }
  return {
    view,
    arch: knownArch(known),
    archSource: archFact?.source ?? null,
    cpuinfo: cpuinfoRead.ok ? { ok: true, source: cpuinfoRead.source, text: cpuinfoRead.value } : { ok: false, source: cpuinfoRead.source, reason: cpuinfoRead.reason },
    cpuTypes: cpuTypesFromFacts(known),
    dt,
    gtdt,
    clocksources: kernelClocksources(known),
    current,
    log,
    live,
  };
}

/** True when anything says this is an Arm machine (the core may not have named the architecture). */
function armRelevant(ev: Evidence, known: FactSet): boolean {
  if (ev.arch === "arm" || ev.arch === "arm64" || known.value("arch.family") === "arm") return true;
  if (ev.arch !== null) return false;
  if (ev.cpuTypes && ev.cpuTypes.types.length > 0) return true;
  if (ev.dt.archTimers.length > 0 || ev.dt.mmioFrames.length > 0 || ev.gtdt.present) return true;
  if (ev.clocksources?.names.some((n) => ARM_CLOCKSOURCES.has(n))) return true;
  if (ev.log.ok && (ev.log.parsed.banners.length > 0 || ev.log.parsed.archHint !== null)) return true;
  return false;
}

function genericTimerFacts(ev: Evidence): Fact[] {
  const out: Fact[] = [];
  const name = ARM_FACT.genericTimer;
  const enabled = ev.dt.archTimers.filter((n) => n.enabled === true);
  if (enabled.length > 0) {
    const n = enabled[0] as ArchTimerNode;
    out.push(fact(name, true, n.compatibleSource, "definitive", `device-tree node ${n.path} is compatible with ${n.compatible.join(", ")} and enabled${n.status ? ` (status "${n.status}")` : ""}`));
  } else if (ev.dt.archTimers.length > 0) {
    const n = ev.dt.archTimers[0] as ArchTimerNode;
    out.push(fact(name, false, n.statusSource, "derived", `the only architected-timer node${ev.dt.archTimers.length > 1 ? "s are" : " is"} disabled (${n.path}: status ${JSON.stringify(n.status)}): the kernel skips ${ev.dt.archTimers.length > 1 ? "them" : "it"}`));
  }
  if (ev.gtdt.present) out.push(fact(name, true, ev.gtdt.source, "definitive", "the firmware's ACPI GTDT describes the generic timer"));
  if (ev.log.ok) {
    const b = firstCp15Banner(ev.log);
    if (b && b.timers !== "mmio") out.push(fact(name, true, lineSrc(ev, b.line), "definitive", "the arch-timer driver's boot banner for the CP15 timer"));
  }
  const cs = ev.clocksources;
  if (cs?.names.includes("arch_sys_counter")) {
    out.push(fact(name, true, cs.source, cs.confidence, cs.complete ? "the kernel registered the arch_sys_counter clocksource" : "the kernel's clocksource is arch_sys_counter"));
  } else if (ev.current?.name === "arch_sys_counter") {
    out.push(fact(name, true, ev.current.source, ev.current.confidence, "the kernel's clocksource is arch_sys_counter"));
  }
  if (ev.arch === "arm64") out.push(fact(name, true, ev.archSource ?? "arch", "derived", "arm64 Linux cannot boot without the architected timer (the boot stops if it has no rate)"));
  const features = ev.cpuinfo.ok ? cpuinfoWords(parseCpuinfo(ev.cpuinfo.text), "features") : undefined;
  if (features?.has("evtstrm") && ev.cpuinfo.ok) out.push(fact(name, true, `${ev.cpuinfo.source} (Features: evtstrm)`, "derived", "the event stream is a feature of the architected timer's driver"));
  // Negative evidence.
  if (cs?.complete && cs.names.length > 0 && !cs.names.includes("arch_sys_counter")) {
    out.push(fact(name, false, cs.source, "derived", `the kernel registered no arch_sys_counter clocksource (it has ${cs.names.join(", ")})`));
  }
  if (ev.dt.walk.present && !ev.dt.walk.truncated && ev.dt.archTimers.length === 0) {
    out.push(fact(name, false, ev.dt.walk.source, "derived", `no node in the device tree is compatible with arm,armv8-timer or arm,armv7-timer${ev.dt.mmioFrames.length ? ` (only the memory-mapped frame ${ev.dt.mmioFrames.map((m) => m.path).join(", ")})` : ""}`));
  }
  if (ev.log.ok && ev.log.parsed.fromBoot && !ev.log.parsed.banners.some((b) => b.timers !== "mmio")) {
    const sw = ev.log.parsed.clocksourceSwitches.filter((s) => s.name !== "arch_sys_counter" && s.name !== "jiffies" && s.name !== "refined-jiffies").at(-1);
    if (sw) out.push(fact(name, false, lineSrc(ev, sw.line), "derived", `the log covers the boot, has no arch-timer banner, and the kernel switched to ${sw.name}`));
  }
  if (ev.cpuTypes && ev.cpuTypes.types.length > 0 && ev.cpuTypes.types.every((t) => coreHasGenericTimer(t.implementer, t.part) === false)) {
    out.push(fact(name, false, ev.cpuTypes.source, "derived", `${ev.cpuTypes.types.map((t) => t.name).join(", ")}: a core without the Generic Timer (ARMv6/ARMv7 without the Virtualization Extensions)`));
  }
  if (out.length === 0) {
    const reasons = [
      ev.dt.walk.present ? null : `${ev.dt.walk.source}: ${ev.dt.walk.reason ?? "absent"}`,
      ev.gtdt.present ? null : `${ev.gtdt.source}: absent`,
      cs ? null : "kernel clocksources unknown",
      ev.log.ok ? `${ev.log.source}: no arch-timer banner` : `${ev.log.source}: ${ev.log.reason}`,
    ].filter((x): x is string => x !== null);
    const cpuHas = ev.cpuTypes?.types.filter((t) => coreHasGenericTimer(t.implementer, t.part) === true);
    if (cpuHas && cpuHas.length > 0) reasons.push(`the CPU (${cpuHas.map((t) => t.name).join(", ")}) implements the generic timer, but nothing says whether the kernel uses it`);
    out.push(unknownFact(name, "device tree, ACPI, clocksources, kernel log", reasons.join("; ")));
  }
  return out;
}

function kernelTimerFacts(ev: Evidence): Fact[] {
  const out: Fact[] = [];
  if (ev.current) {
    const d = describeKernelTimer(ev.current.name);
    out.push(fact(ARM_FACT.kernelTimer, { name: ev.current.name, kind: d.kind }, ev.current.source, ev.current.confidence, d.description));
  } else if (ev.clocksources?.complete && ev.clocksources.names.length === 1) {
    const only = ev.clocksources.names[0] as string;
    const d = describeKernelTimer(only);
    out.push(fact(ARM_FACT.kernelTimer, { name: only, kind: d.kind }, ev.clocksources.source, "derived", `the only clocksource: ${d.description}`));
  }
  const node = chosenNode(ev.dt);
  if (node) {
    const others = ev.dt.archTimers.filter((n) => n !== node).map((n) => `${n.path} (${n.enabled === false ? `status ${JSON.stringify(n.status)}` : "also enabled; the kernel binds only the first"})`);
    out.push(
      fact(
        ARM_FACT.dtTimerNode,
        { path: node.path, compatible: [...node.compatible], status: node.status, enabled: node.enabled },
        node.compatibleSource,
        "definitive",
        [node.problems.length ? `problems: ${node.problems.join("; ")}` : null, others.length ? `other architected-timer nodes: ${others.join(", ")}` : null].filter((x) => x !== null).join("; ") || undefined,
      ),
    );
  }
  const others = [...ev.dt.mmioFrames, ...ev.dt.otherTimers];
  if (others.length > 0) {
    out.push(
      fact(
        "arm.dt_other_timers",
        others.map((o) => ({ path: o.path, compatible: [...o.compatible], enabled: o.enabled })),
        ev.dt.walk.source,
        "definitive",
        "timer nodes that are not the architected CP15 timer (memory-mapped frames, board and vendor timers)",
      ),
    );
  }
  if (ev.dt.problems.length > 0) out.push(fact("arm.dt_problems", ev.dt.problems, ev.dt.walk.source, "definitive", "device-tree entries that could not be read or decoded; the walk went on without them"));
  if (ev.gtdt.present) {
    const t = ev.gtdt.table;
    out.push(
      fact(
        ARM_FACT.acpiGtdt,
        true,
        ev.gtdt.source,
        "definitive",
        t ? `OEM ${JSON.stringify(t.oemId)} table ${JSON.stringify(t.oemTableId)} revision ${t.oemRevision}` : (ev.gtdt.note ?? undefined),
      ),
    );
  } else if (ev.gtdt.acpiPresent) {
    out.push(fact(ARM_FACT.acpiGtdt, false, ev.gtdt.source, "definitive", "ACPI tables are exposed but there is no GTDT"));
  }
  return out;
}

function frequencyCandidates(ev: Evidence): { candidates: FrequencyCandidate[]; missing: string[] } {
  const c: FrequencyCandidate[] = [];
  const missing: string[] = [];
  const node = ev.dt.archTimers.find((n) => n.enabled === true);
  if (node?.clockFrequency) {
    c.push({ hz: node.clockFrequency.hz, source: node.clockFrequency.source, confidence: "definitive", note: `device-tree clock-frequency on ${node.path}: exact, and the kernel uses it instead of CNTFRQ`, uncertaintyHz: 0, kind: "device-tree" });
  } else {
    missing.push(node ? `${node.path} has no clock-frequency (the kernel uses CNTFRQ)` : "no enabled architected-timer node in the device tree");
  }
  if (ev.log.ok) {
    const seenRates = new Set<number>();
    for (const r of ev.log.parsed.exactRates) if (!seenRates.has(r.hz) && seenRates.add(r.hz)) c.push({ hz: r.hz, source: lineSrc(ev, r.line), confidence: "definitive", note: "the rate the vendor kernel prints in hex: exact", uncertaintyHz: 0, kind: "log-exact" });
    const b = firstCp15Banner(ev.log);
    if (b) c.push({ hz: b.rateHz, source: lineSrc(ev, b.line), confidence: "definitive", note: `the arch-timer banner: the rate the kernel uses, printed truncated to 10 kHz (${b.rateText}: in [${b.rateHz}, ${b.rateHz + 10_000}) Hz)`, uncertaintyHz: 10_000, kind: "banner" });
    else missing.push(`${ev.log.source}: no arch-timer banner`);
  } else {
    missing.push(`${ev.log.source}: ${ev.log.reason}`);
  }
  if (ev.live.cntfrq !== null && ev.live.cntfrq > 0n && ev.live.cntfrq <= BigInt(Number.MAX_SAFE_INTEGER)) {
    c.push({ hz: Number(ev.live.cntfrq), source: "CNTFRQ_EL0 (native reader)", confidence: "definitive", note: `the frequency firmware programmed${node?.clockFrequency ? "; the device tree overrides it" : ""}`, uncertaintyHz: 0, kind: "cntfrq" });
  } else {
    missing.push(`CNTFRQ_EL0: ${ev.live.readable ? "the native reader has no cntfrq path" : ev.live.note}`);
  }
  if (ev.cpuinfo.ok) {
    const bogo = cpuinfoValue(parseCpuinfo(ev.cpuinfo.text), "bogomips");
    if (ev.arch !== "arm64") {
      if (bogo !== undefined) missing.push(`${ev.cpuinfo.source}: BogoMIPS ${bogo} not used: ${ev.arch === "arm" ? "on 32-bit Arm it is loop-calibrated (or comes from any board timer), not the generic timer's rate" : "the architecture is not known to be arm64"}`);
    } else if (bogo === undefined) {
      missing.push(`${ev.cpuinfo.source}: no BogoMIPS line`);
    } else {
      const h = parseBogomipsHundredths(bogo);
      if (h === null || h === 0) missing.push(`${ev.cpuinfo.source}: BogoMIPS ${JSON.stringify(bogo)} is not a positive number`);
      else c.push({ hz: rateFromBogomipsHundredths(h), source: `${ev.cpuinfo.source} (BogoMIPS ${bogo})`, confidence: "heuristic", note: "arm64 BogoMIPS = 2 × timer rate / 10^6, truncated: a lower bound good to about 5 kHz", uncertaintyHz: 5_000, kind: "bogomips" });
    }
  } else {
    missing.push(`${ev.cpuinfo.source}: ${ev.cpuinfo.reason}`);
  }
  return { candidates: orderFrequencyCandidates(c), missing };
}

function widthFacts(ev: Evidence, best: FrequencyCandidate | undefined, genericTimerFalse: boolean): Fact[] {
  const name = ARM_FACT.counterWidthBits;
  const out: Fact[] = [];
  if (ev.log.ok) {
    const masks = ev.log.parsed.masks.filter((m) => m.clocksource === "arch_sys_counter" || m.clocksource === "arch_mem_counter");
    const mask = masks.find((m) => m.clocksource === "arch_sys_counter" && m.width !== null) ?? masks.find((m) => m.width !== null);
    if (mask && mask.width !== null) out.push(fact(name, mask.width, lineSrc(ev, mask.line), "definitive", `the kernel registered ${mask.clocksource} with mask 0x${mask.mask.toString(16)} (${mask.width} bits)`));
    const banner = firstCp15Banner(ev.log);
    if (banner) {
      const sc = ev.log.parsed.schedClocks.find((s) => s.line.lineNumber > banner.line.lineNumber && schedClockMatchesRate(s, banner.rateHz));
      if (sc) out.push(fact(name, sc.bits, lineSrc(ev, sc.line), "definitive", `sched_clock registered on the arch counter (${sc.rate}${sc.unit} matches the banner's ${banner.rateText}) with the driver's width`));
    }
  }
  if (best) {
    const lo = kernelCounterWidth(best.hz);
    const hi = kernelCounterWidth(best.hz + Math.max(0, best.uncertaintyHz - 1));
    const threshold = rateAboveWidth(56);
    const aboveThreshold = BigInt(best.hz + best.uncertaintyHz) > threshold;
    const older = aboveThreshold ? "; kernels before the 2021 driver change (and vendor kernels without it) assume 56 bits at every rate" : "";
    // Derived only when the rate is trustworthy, its uncertainty cannot change the width, and old and new kernels agree.
    const confidence: Exclude<Confidence, "unknown"> = lo === hi && best.confidence !== "heuristic" && !aboveThreshold ? "derived" : "heuristic";
    out.push(
      fact(
        name,
        lo,
        best.source,
        confidence,
        `the driver's rule at ${best.hz} Hz: the smallest width that does not wrap within 40 years, at least 56 and at most 64 bits (56 bits up to ${threshold - 1n} Hz)${lo !== hi ? `; the rate's uncertainty spans ${lo}–${hi} bits` : ""}${older}`,
      ),
    );
  }
  if (out.length === 0) {
    out.push(unknownFact(name, "kernel log, timer frequency", genericTimerFalse ? "no architected generic timer in use" : "no clocksource mask or sched_clock line for the arch counter, and the frequency is unknown"));
  }
  return out;
}

function featureFacts(ev: Evidence): Fact[] {
  const out: Fact[] = [];
  if (ev.cpuinfo.ok) {
    const features = cpuinfoWords(parseCpuinfo(ev.cpuinfo.text), "features");
    const src = `${ev.cpuinfo.source} (Features)`;
    if (features) {
      if (ev.arch === "arm64") {
        out.push(
          features.has("ecv")
            ? fact(ARM_FACT.ecv, true, src, "definitive", "FEAT_ECV: the CPU has CNTPOFF-capable counter virtualization and self-synchronising counter reads")
            : fact(ARM_FACT.ecv, false, src, "heuristic", "`ecv` is not listed; kernels older than the ECV hwcap (2021) never list it"),
        );
      }
      out.push(
        features.has("evtstrm")
          ? fact(ARM_FACT.evtstrm, true, src, "definitive", "the timer's event stream wakes WFE waiters periodically")
          : fact(ARM_FACT.evtstrm, false, src, "derived", "`evtstrm` is not listed: the event stream is off, or the kernel predates it"),
      );
    }
  }
  const node = chosenNode(ev.dt);
  if (node) {
    out.push(node.alwaysOn ? fact(ARM_FACT.alwaysOn, true, node.alwaysOn.source, "definitive", "the timer keeps running in every idle state") : fact(ARM_FACT.alwaysOn, false, node.compatibleSource, "definitive", `${node.path} has no always-on property: the timer may stop in deep idle states (the kernel then uses a broadcast timer)`));
    out.push(
      node.noTickInSuspend
        ? fact(ARM_FACT.noTickInSuspend, true, node.noTickInSuspend.source, "definitive", "the system counter stops during system suspend: the clocksource is not marked suspend-nonstop")
        : fact(ARM_FACT.noTickInSuspend, false, node.compatibleSource, "definitive", `${node.path} has no arm,no-tick-in-suspend property`),
    );
  } else if (ev.gtdt.table) {
    out.push(fact(ARM_FACT.alwaysOn, ev.gtdt.table.virtualEl1AlwaysOn || ev.gtdt.table.nonSecureEl1AlwaysOn, ev.gtdt.source, "definitive", `GTDT always-on capability: virtual EL1 timer ${ev.gtdt.table.virtualEl1AlwaysOn}, non-secure EL1 timer ${ev.gtdt.table.nonSecureEl1AlwaysOn}`));
  }
  if (ev.log.ok) {
    const b = firstCp15Banner(ev.log);
    if (b?.cp15Counter) {
      out.push(
        fact(
          ARM_FACT.kernelCounter,
          b.cp15Counter,
          lineSrc(ev, b.line),
          "definitive",
          b.cp15Counter === "virt" ? "the kernel reads the virtual counter: it booted at EL1 (a guest, or firmware without EL2)" : "the kernel reads the physical counter: it booted at EL2 (hypervisor-capable host)",
        ),
      );
    }
    const trap = ev.log.parsed.cntvctTrapping[0];
    if (trap) out.push(fact(ARM_FACT.cntvctTrapped, true, lineSrc(ev, trap), "definitive", "user-space CNTVCT reads trap to the kernel, which emulates them (an erratum workaround)"));
  }
  return out;
}

interface ErratumHit {
  readonly erratum: CounterErratum | null;
  readonly name: string;
  readonly sources: { source: string; confidence: Exclude<Confidence, "unknown">; how: string }[];
}

function errataFacts(ev: Evidence): Fact[] {
  const hits = new Map<string, ErratumHit>();
  const add = (erratum: CounterErratum | null, name: string, source: string, confidence: Exclude<Confidence, "unknown">, how: string) => {
    const key = erratum?.id ?? name;
    const h = hits.get(key) ?? { erratum, name: erratum?.name ?? name, sources: [] };
    h.sources.push({ source, confidence, how });
    hits.set(key, h);
  };
  const consulted: string[] = [];
  const node = ev.dt.archTimers.find((n) => n.enabled === true);
  if (node) {
    consulted.push(`device-tree node ${node.path}`);
    for (const e of node.errata) add(e.erratum, e.erratum.name, e.source, "definitive", `device-tree property ${e.erratum.dtProperty}`);
  }
  if (ev.gtdt.table) {
    consulted.push("ACPI GTDT");
    const e = erratumForGtdtOem(ev.gtdt.table.oemId, ev.gtdt.table.oemTableId, ev.gtdt.table.oemRevision);
    if (e) add(e, e.name, ev.gtdt.source, "definitive", `GTDT OEM ${ev.gtdt.table.oemId.trim()} ${ev.gtdt.table.oemTableId.trim()} revision ${ev.gtdt.table.oemRevision}`);
  }
  if (ev.cpuTypes && ev.cpuTypes.types.length > 0) {
    consulted.push("CPU types");
    for (const t of ev.cpuTypes.types) {
      const e = erratumForCpu(t.implementer, t.part);
      if (e) add(e, e.name, ev.cpuTypes.source, "derived", `${t.name}: Linux applies the workaround to every revision of this part`);
    }
  }
  if (ev.log.ok) {
    consulted.push("kernel log");
    for (const w of ev.log.parsed.workarounds) {
      const e = erratumForLogText(w.description) ?? null;
      add(e, w.description, lineSrc(ev, w.line), "definitive", `the arch-timer driver enabled a ${w.scope} workaround`);
    }
    const seen = new Set(ev.log.parsed.workarounds.map((w) => w.line.lineNumber));
    for (const line of ev.log.parsed.errataLines) {
      if (seen.has(line.lineNumber)) continue;
      for (const e of COUNTER_ERRATA) if (e.logPattern.test(line.message) && /(?:ARM|erratum|errata)/i.test(line.message) && e.id.startsWith("arm-")) add(e, e.name, lineSrc(ev, line), "definitive", "the kernel reports the CPU erratum");
    }
  }
  const out: Fact[] = [];
  const list = [...hits.values()];
  for (const h of list) {
    const strongest = h.sources.some((s) => s.confidence === "definitive") ? "definitive" : "derived";
    const id = h.erratum?.id ?? h.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    out.push(
      fact(
        `${ARM_FACT.erratumPrefix}${id}`,
        { name: h.name, affectsUserReads: h.erratum?.affectsUserReads ?? true, effect: h.erratum?.effect ?? "an arch-timer workaround the kernel enabled; assume counter reads are affected" },
        h.sources.map((s) => s.source).join("; "),
        strongest,
        h.sources.map((s) => s.how).join("; "),
      ),
    );
  }
  if (list.length > 0) {
    const weakest = list.every((h) => h.sources.some((s) => s.confidence === "definitive")) ? "definitive" : "derived";
    out.unshift(fact(ARM_FACT.errata, list.map((h) => h.name), [...new Set(list.flatMap((h) => h.sources.map((s) => s.source)))].join("; "), weakest, `counter errata found in: ${consulted.join(", ")}`));
  } else if (consulted.length > 0) {
    const strongSources = consulted.some((c) => c.startsWith("device-tree") || c === "kernel log" || c === "ACPI GTDT");
    out.push(fact(ARM_FACT.errata, [], consulted.join(", "), strongSources ? "derived" : "heuristic", `no counter erratum in: ${consulted.join(", ")}${strongSources ? "" : " (no device tree, ACPI table or kernel log to confirm)"}`));
  } else {
    out.push(unknownFact(ARM_FACT.errata, "device tree, ACPI, CPU types, kernel log", "none of them could be read"));
  }
  return out;
}

function liveFacts(ev: Evidence): Fact[] {
  if (ev.live.readable === null) return [unknownFact(ARM_FACT.counterReadable, ev.live.source, ev.live.note)];
  return [fact(ARM_FACT.counterReadable, ev.live.readable, ev.live.source, "definitive", ev.live.note)];
}

/**
 * The Arm generic-timer probe. Reads the device tree (the whole tree, for any
 * node compatible with `arm,armv8-timer`/`arm,armv7-timer`), the ACPI GTDT,
 * `/proc/cpuinfo`, the kernel clocksources and the kernel log, and on a live
 * arm64 machine the counter registers through the native reader. Emits the
 * `arm.*` facts (see {@link ARM_FACT}); silent on machines known not to be Arm.
 */
export class ArmTimerProbe implements CapabilityProbe {
  readonly id = "arm-timer";

  /** @param reader the counter reader; the native addon's by default */
  constructor(private readonly reader: ArmCounterReader = defaultArmCounterReader()) {}

  probe(view: SystemView, known: FactSet): Fact[] {
    if (knownNotArm(known)) return [];
    const ev = gather(view, known, this.reader);
    if (!armRelevant(ev, known)) return [];
    const gt = genericTimerFacts(ev);
    const genericTimerFalse = !gt.some((f) => f.value === true) && gt.some((f) => f.value === false);
    const { candidates, missing } = frequencyCandidates(ev);
    const freq: Fact[] = candidates.map((c) => fact(ARM_FACT.timerFrequencyHz, c.hz, c.source, c.confidence, c.note));
    if (freq.length === 0) freq.push(unknownFact(ARM_FACT.timerFrequencyHz, "device tree, kernel log, CNTFRQ_EL0, BogoMIPS", (genericTimerFalse ? ["no architected generic timer in use", ...missing] : missing).join("; ")));
    return [...gt, ...kernelTimerFacts(ev), ...freq, ...widthFacts(ev, candidates[0], genericTimerFalse), ...featureFacts(ev), ...errataFacts(ev), ...liveFacts(ev)];
  }
}

