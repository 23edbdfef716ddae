import {
  clockDomain,
  ClocksourceError,
  DOMAIN,
  FACT,
  nanosecondConverter,
  RATING,
  resolveVirtualization,
  unusable,
  type BackendContext,
  type BackendVerdict,
  type ClockBackend,
  type ClockSource,
  type FactSet,
  type MappingKind,
} from "@clocksource/core";
import { kernelCounterWidth } from "./counter-width.js";
import { defaultArmCounterReader } from "./default-reader.js";
import { COUNTER_ERRATA, type CounterErratumId } from "./errata.js";
import { erratumSafeRead } from "./errata-read.js";
import { ARM_FACT } from "./fact-names.js";
import type { ArmCounterReader } from "./native-reader.js";

/**
 * Ratings inside the core's bands (see `RATING`):
 * - on a host or bare metal, user-space CNTVCT equals the physical count (the
 *   virtual offset is architecturally 0 under VHE, and KVM zeroes it for host
 *   user space without VHE), so timestamps are already on the host's time
 *   base: an exact mapping, `exactHardware + 40`;
 * - in a guest (or when the role is unknown) the offset lives in the VMM: the
 *   counter is hardware-grade but the mapping is estimated unless the VMM hands
 *   over its offset (an `arm-cntvoff` mapping file), `estimatedHardware + 40`.
 * Then, within the band:
 * - −30 when a counter erratum makes user-space reads trap to the kernel (a
 *   system-call-like cost per read) or unreliable without re-reads;
 * - −20 when the frequency is only a heuristic (BogoMIPS), because ticks → ns
 *   may then be off by a few parts per thousand;
 * so the backend stays above the paravirtual estimate (200) and the OS clock (100)
 * but yields to a clean counter of the same kind.
 */
export const ARM_RATING = {
  exact: RATING.exactHardware + 40,
  estimated: RATING.estimatedHardware + 40,
  erratumPenalty: 30,
  heuristicFrequencyPenalty: 20,
} as const;

/** The counter errata in the facts that affect 64-bit user-space reads. */
export function userReadErrata(facts: FactSet): CounterErratumId[] {
  const out: CounterErratumId[] = [];
  for (const e of COUNTER_ERRATA) {
    const f = facts.best(`${ARM_FACT.erratumPrefix}${e.id}`);
    if (f && e.affectsUserReads) out.push(e.id);
  }
  return out;
}

function mappingFor(facts: FactSet): { mapping: MappingKind; reason: string; guest: boolean } {
  const v = resolveVirtualization(facts);
  if (v.role === "host" || v.role === "bare-metal") {
    return { mapping: "exact", reason: `${v.role}: user-space CNTVCT is the physical count (offset 0), already the host's time base`, guest: false };
  }
  if (v.role === "guest") {
    return { mapping: "estimated", reason: `a guest${v.hypervisor ? ` of ${v.hypervisor}` : ""}: CNTVCT = host CNTPCT − CNTVOFF; the offset is known only to the VMM (an arm-cntvoff mapping file from it makes the mapping exact)`, guest: true };
  }
  // Unknown role: the mapping cannot be promised, but the domain is named as
  // everywhere else (x86-tsc, os-monotonic): guest.* only for a known guest.
  return { mapping: "estimated", reason: "virtualization role unknown: the counter may be a guest's whose offset must be supplied or estimated", guest: false };
}

/**
 * The Arm generic-timer backend (`arm-generic-timer`): reads `CNTVCT_EL0`
 * from user space through the native reader and converts ticks → ns exactly
 * (core `nanosecondConverter`: the kernel's mult/shift, BigInt) at the probed frequency. Usable
 * only on a live arm64 machine whose counter the probe could read.
 */
export class ArmGenericTimerBackend implements ClockBackend {
  readonly id = "arm-generic-timer";
  readonly description = "Arm generic timer: CNTVCT_EL0 read from user space (arm64, native reader)";

  /** @param reader the counter reader; the native addon's by default */
  constructor(private readonly reader: ArmCounterReader = defaultArmCounterReader()) {}

  assess({ facts }: BackendContext): BackendVerdict {
    const problems: string[] = [];
    const arch = facts.best(FACT.arch);
    if (arch?.value !== "arm64") {
      problems.push(arch ? `not an arm64 machine (arch ${String(arch.value)} from ${arch.source})` : "not known to be an arm64 machine (architecture unknown)");
    }
    if (this.reader.unavailable) problems.push(`native reader unavailable: ${this.reader.unavailable}`);
    // Off arm64 the rest (timer facts) would only be noise.
    if (arch?.value !== "arm64") return unusable(problems);
    const readable = facts.best(ARM_FACT.counterReadable);
    if (!this.reader.unavailable && arch?.value === "arm64") {
      if (readable?.value === false) problems.push(`the counter could not be read: ${readable.reason ?? readable.source}`);
      else if (readable?.value !== true) problems.push(`the counter was not read on this machine: ${facts.unknownReasons(ARM_FACT.counterReadable).join("; ") || "no probe tried"}`);
    }
    const gt = facts.best(ARM_FACT.genericTimer);
    if (gt?.value === false) problems.push(`no architected generic timer in use (${gt.source}: ${gt.reason ?? ""})`);
    const freq = facts.best(ARM_FACT.timerFrequencyHz);
    if (typeof freq?.value !== "number" || !(freq.value > 0)) problems.push(`timer frequency unknown (${facts.unknownReasons(ARM_FACT.timerFrequencyHz).join("; ") || "no source"})`);
    const m = mappingFor(facts);
    if (problems.length > 0) return unusable(problems, m.mapping);

    const reasons: string[] = [`CNTVCT_EL0 readable (${readable?.source}: ${readable?.reason ?? ""})`];
    let rating: number = m.mapping === "exact" ? ARM_RATING.exact : ARM_RATING.estimated;
    reasons.push(m.reason);
    reasons.push(`frequency ${String(freq?.value)} Hz from ${freq?.source} (${freq?.confidence})`);
    if (freq?.confidence === "heuristic") {
      rating -= ARM_RATING.heuristicFrequencyPenalty;
      reasons.push(`rating −${ARM_RATING.heuristicFrequencyPenalty}: the frequency is a heuristic, so ticks → ns may be slightly off`);
    }
    const errata = userReadErrata(facts);
    if (errata.length > 0) {
      rating -= ARM_RATING.erratumPenalty;
      const names = errata.map((id) => (COUNTER_ERRATA.find((e) => e.id === id) as (typeof COUNTER_ERRATA)[number]).name);
      const trapped = facts.best(ARM_FACT.cntvctTrapped)?.value === true;
      reasons.push(
        `rating −${ARM_RATING.erratumPenalty}: ${names.join(", ")} affect${errata.length === 1 ? "s" : ""} counter reads: ${trapped ? "the kernel traps user-space CNTVCT reads (each read costs a trap)" : "the kernel traps user-space CNTVCT reads when it applies the workaround, and raw reads are unreliable when it does not"}; this backend re-reads per the erratum's rule`,
      );
    }
    return { usable: true, rating, mapping: m.mapping, reasons };
  }

  create({ facts }: BackendContext): ClockSource {
    if (this.reader.unavailable) throw new ClocksourceError("BACKEND_UNUSABLE", `arm-generic-timer: ${this.reader.unavailable}`);
    const freq = facts.best(ARM_FACT.timerFrequencyHz)?.value;
    if (typeof freq !== "number" || !Number.isSafeInteger(freq) || freq <= 0) throw new ClocksourceError("BACKEND_UNUSABLE", "arm-generic-timer: the timer frequency is unknown");
    const widthFact = facts.best(ARM_FACT.counterWidthBits)?.value;
    const widthBits = typeof widthFact === "number" ? widthFact : kernelCounterWidth(freq);
    const guest = mappingFor(facts).guest;
    const converter = nanosecondConverter(freq);
    const read = erratumSafeRead(() => this.reader.readCntvct(), userReadErrata(facts));
    return {
      id: this.id,
      domain: clockDomain(guest ? DOMAIN.guestCntvct : DOMAIN.hostCntpct, freq, widthBits),
      frequencyHz: freq,
      widthBits,
      now: read,
      toNanoseconds: converter.toNanoseconds,
    };
  }
}
