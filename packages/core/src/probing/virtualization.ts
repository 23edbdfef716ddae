import { fact, type Fact, type FactSet } from "./facts.js";
import { FACT, HYPERVISORS, type HypervisorName } from "./fact-names.js";

/** The machine's place in a virtualization stack. */
export type VirtualizationRole = "guest" | "host" | "bare-metal" | "unknown";

export interface Virtualization {
  readonly role: VirtualizationRole;
  readonly hypervisor: HypervisorName | null;
  /** How the role was decided, and any disagreement between sources. */
  readonly notes: readonly string[];
}

/**
 * Decides the virtualization role from the facts. A named hypervisor (or the
 * hypervisor-present bit) makes a guest; an explicit role (Xen dom0) wins; KVM
 * host evidence alone makes a host; bare metal needs positive evidence that no
 * hypervisor is present. Anything else is unknown.
 */
export function resolveVirtualization(facts: FactSet): Virtualization {
  const notes: string[] = [];
  const hvFact = facts.best(FACT.hypervisor) ?? qemuCpuModel(facts);
  const hvValue = hvFact?.value;
  const hypervisor = typeof hvValue === "string" && (HYPERVISORS as readonly string[]).includes(hvValue) ? (hvValue as HypervisorName) : null;
  if (hvFact) notes.push(`hypervisor ${String(hvValue)} from ${hvFact.source} (${hvFact.confidence})`);
  for (const c of facts.conflicts()) {
    if (c.name !== FACT.hypervisor) continue;
    notes.push(`sources disagree on the hypervisor: ${c.overruled.map((f) => `${String(f.value)} (${f.source}, ${f.confidence})`).join("; ")} overruled by ${String(c.chosen.value)}`);
  }
  const present = facts.best(FACT.hypervisorPresent);
  const explicitRole = facts.best(FACT.role);
  const kvmHost = facts.best(FACT.kvmHost);
  if (explicitRole && (explicitRole.value === "host" || explicitRole.value === "guest")) {
    notes.push(`role ${explicitRole.value} from ${explicitRole.source}`);
    return { role: explicitRole.value, hypervisor, notes };
  }
  if (hypervisor !== null || present?.value === true) {
    if (hypervisor === null) notes.push(`a hypervisor is present (${present?.source}) but none is named`);
    if (kvmHost?.value === true) notes.push(`also a KVM host (${kvmHost.source}): nested virtualization`);
    return { role: "guest", hypervisor: hypervisor ?? "other", notes };
  }
  if (kvmHost?.value === true) {
    notes.push(`KVM host evidence: ${kvmHost.source}`);
    return { role: "host", hypervisor: null, notes };
  }
  if (present?.value === false && present.confidence !== "heuristic") {
    notes.push(`no hypervisor present (${present.source}, ${present.confidence})`);
    return { role: "bare-metal", hypervisor: null, notes };
  }
  if (present?.value === false) {
    notes.push(`${present.source} suggests no hypervisor, but only heuristically (${present.reason ?? "weak evidence"}); not calling it bare metal`);
  }
  notes.push("no source tells whether a hypervisor is present");
  return { role: "unknown", hypervisor: null, notes };
}

/** QEMU's own CPU models are named "QEMU Virtual CPU …": a QEMU guest (TCG or KVM), heuristically. */
function qemuCpuModel(facts: FactSet): Fact | undefined {
  const model = facts.named(FACT.cpuModel).find((f) => typeof f.value === "string" && /\bQEMU Virtual CPU\b/.test(f.value));
  return model ? fact(FACT.hypervisor, "qemu", model.source, "heuristic", "QEMU names its generic CPU models \"QEMU Virtual CPU\"") : undefined;
}
