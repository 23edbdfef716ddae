import {
  ClocksourceError,
  DOMAIN,
  FACT,
  RATING,
  clockDomain,
  nanosecondConverter,
  resolveVirtualization,
  unusable,
  type BackendContext,
  type BackendVerdict,
  type ClockBackend,
  type ClockSource,
  type Fact,
  type FactSet,
} from "@clocksource/core";
import { nativeReader } from "./native-reader.js";
import { X86_FACT, isX86Machine } from "./x86-facts.js";

const describe = (f: Fact) => `${f.source}, ${f.confidence}`;

/** Rating inside the bands, and the mapping claim, per virtualization role (see docs/x86.md). */
function ratingFor(facts: FactSet): { rating: number; mapping: BackendVerdict["mapping"]; why: string } {
  const virt = resolveVirtualization(facts);
  if (virt.role === "guest" && virt.hypervisor === "kvm") {
    return {
      rating: RATING.exactHardware - 10,
      mapping: "exact",
      why: "KVM guest: guest TSC = ((host TSC × ratio) >> frac) + offset, exact once the host's KVM debugfs parameters are known (`clocksource kvm-mapping` on the host)",
    };
  }
  if (virt.role === "guest") {
    return {
      rating: RATING.estimatedHardware,
      mapping: "estimated",
      why: `${virt.hypervisor ?? "unknown"} guest: the hypervisor does not expose its TSC offset/scale, so a mapping to the host can only be estimated`,
    };
  }
  if (virt.role === "host" || virt.role === "bare-metal") {
    return { rating: RATING.exactHardware, mapping: "exact", why: `${virt.role === "host" ? "KVM host" : "bare metal"}: the TSC is the host's own time base (identity mapping), and KVM guests map to it exactly` };
  }
  return { rating: RATING.estimatedHardware - 10, mapping: "estimated", why: "virtualization role unknown: no exact mapping can be promised" };
}

/**
 * The x86 TSC: usable where it is invariant, not marked unstable, its
 * frequency is known and the native reader can execute `rdtsc`. Rated in the
 * exact-hardware band on bare metal, on a KVM host and in a KVM guest (whose
 * TSC maps exactly to the host's through the host's KVM parameters); in the
 * estimated band under other hypervisors.
 */
export class X86TscBackend implements ClockBackend {
  readonly id = "x86-tsc";
  readonly description = "the x86 time-stamp counter (rdtsc), invariant TSC only";

  assess(context: BackendContext): BackendVerdict {
    const facts = context.facts;
    if (!isX86Machine(facts)) return unusable([`not an x86 machine (arch: ${String(facts.value(FACT.arch) ?? "unknown")})`]);
    const reasons: string[] = [];
    const invariant = facts.best(FACT.x86InvariantTsc);
    if (!invariant) reasons.push(`invariant TSC unknown: ${facts.unknownReasons(FACT.x86InvariantTsc).join("; ") || "no source"}`);
    else if (invariant.value !== true) reasons.push(`TSC not invariant (${describe(invariant)}${invariant.reason ? `: ${invariant.reason}` : ""})`);
    const unstable = facts.best(FACT.x86TscUnstable);
    if (unstable?.value === true) reasons.push(`the kernel marked the TSC unstable (${describe(unstable)})`);
    const freq = facts.best(FACT.x86TscFrequencyHz);
    if (!freq || typeof freq.value !== "number") reasons.push(`TSC frequency unknown: ${facts.unknownReasons(FACT.x86TscFrequencyHz).join("; ") || "no source"}`);
    const readable = facts.best(X86_FACT.tscReadable);
    if (!readable) reasons.push(`TSC not readable here: ${facts.unknownReasons(X86_FACT.tscReadable).join("; ") || "not probed"}`);
    else if (readable.value !== true) reasons.push(readable.reason ?? "TSC not readable");
    if (reasons.length > 0) return unusable(reasons);
    const r = ratingFor(facts);
    const notes = [`invariant TSC (${describe(invariant as Fact)})`, `frequency ${String(freq?.value)} Hz (${describe(freq as Fact)})`, r.why];
    let rating = r.rating;
    // Weaker evidence lowers the rating a little inside the band.
    if (invariant?.confidence !== "definitive") {
      rating -= 5;
      notes.push("invariance known only from /proc/cpuinfo flags, not CPUID");
    }
    if (freq?.confidence === "heuristic") {
      rating -= 5;
      notes.push("frequency is only an estimate");
    }
    if (!unstable) notes.push("whether the kernel marked the TSC unstable is unknown (no kernel log)");
    return { usable: true, rating, mapping: r.mapping, reasons: notes };
  }

  create(context: BackendContext): ClockSource {
    const reader = nativeReader();
    if (!reader.ok) throw new ClocksourceError("BACKEND_UNUSABLE", `native reader unavailable: ${reader.reason}`);
    const native = reader.native;
    if (!native.readCounterToSink || native.counter !== "tsc") throw new ClocksourceError("BACKEND_UNUSABLE", "the native reader cannot read the TSC here");
    const freq = context.facts.value(FACT.x86TscFrequencyHz);
    if (typeof freq !== "number" || !Number.isSafeInteger(freq) || freq <= 0) throw new ClocksourceError("BACKEND_UNUSABLE", "TSC frequency unknown");
    const role = resolveVirtualization(context.facts).role;
    const domain = clockDomain(role === "guest" ? DOMAIN.guestTsc : DOMAIN.hostTsc, freq, 64);
    const toNs = nanosecondConverter(freq).toNanoseconds;
    const read = reader.counterReader();
    if (!read) throw new ClocksourceError("BACKEND_UNUSABLE", "the native reader has no fast counter path here");
    return {
      id: this.id,
      domain,
      frequencyHz: freq,
      widthBits: 64,
      now: read,
      toNanoseconds: toNs,
    };
  }
}
