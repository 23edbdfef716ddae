import { fact, FACT, unknownFact, type CapabilityProbe, type Fact, type FactSet, type SystemView } from "@clocksource/core";

/** Fact names this probe emits. */
export const PARAVIRT_FACT = {
  /** Boolean: a `ptp_kvm` clock is registered (`sys/class/ptp/ptpN/clock_name` = `KVM virtual PTP`). */
  ptpKvm: "paravirt.ptp_kvm",
  /** String: the device of that clock (`/dev/ptp0`). */
  ptpKvmDevice: "paravirt.ptp_kvm_device",
  /** Array of strings: named virtio-serial ports (`/dev/virtio-ports/NAME`). */
  virtioPorts: "paravirt.virtio_ports",
  /** Boolean: the kernel offers the `kvm-clock` clocksource. */
  kvmClock: "paravirt.kvm_clock",
  /** Boolean: the kernel offers Hyper-V's TSC page clocksource (`hyperv_clocksource_tsc_page`). */
  hypervTscPage: "paravirt.hyperv_tsc_page",
} as const;

const KVM_PTP_NAME = "KVM virtual PTP";
const PTP_DIR = "sys/class/ptp";
const VPORT_CLASS = "sys/class/virtio-ports";
const VPORT_DEV = "dev/virtio-ports";

/** On the live machine an absent sysfs class directory means "none registered"; in a snapshot it may just not have been captured. */
function absent(view: SystemView, name: string, path: string, none: Fact["value"], what: string): Fact {
  return view.live
    ? fact(name, none, view.describe(path), "derived", `${view.describe(path)} is absent: ${what}`)
    : unknownFact(name, view.describe(path), "not in the snapshot");
}

function probePtp(view: SystemView): Fact[] {
  const list = view.list(PTP_DIR);
  if (!list.ok) {
    if (list.missing) return [absent(view, PARAVIRT_FACT.ptpKvm, PTP_DIR, false, "no PTP clock is registered (is the ptp_kvm module loaded?)")];
    return [unknownFact(PARAVIRT_FACT.ptpKvm, list.source, list.reason)];
  }
  const seen: string[] = [];
  const unreadable: string[] = [];
  for (const dev of list.value) {
    const r = view.readText(`${PTP_DIR}/${dev}/clock_name`, { maxBytes: 256 });
    if (!r.ok) {
      unreadable.push(`${r.source}: ${r.reason}`);
      continue;
    }
    const name = r.value.trim();
    if (name === KVM_PTP_NAME) {
      return [
        fact(PARAVIRT_FACT.ptpKvm, true, `${r.source} = "${KVM_PTP_NAME}"`, "definitive"),
        fact(PARAVIRT_FACT.ptpKvmDevice, `/dev/${dev}`, r.source, "derived", "the PTP class device's name is its /dev node"),
      ];
    }
    seen.push(`${dev} "${name}"`);
  }
  if (unreadable.length > 0) return [unknownFact(PARAVIRT_FACT.ptpKvm, list.source, `clock names unreadable: ${unreadable.join("; ")}`)];
  return [fact(PARAVIRT_FACT.ptpKvm, false, list.source, "definitive", seen.length > 0 ? `PTP clocks present but none is KVM's: ${seen.join(", ")}` : "no PTP clock registered")];
}

function probeVirtioPorts(view: SystemView): Fact[] {
  const cls = view.list(VPORT_CLASS);
  if (cls.ok) {
    const names: string[] = [];
    const unnamed: string[] = [];
    for (const port of cls.value) {
      const r = view.readText(`${VPORT_CLASS}/${port}/name`, { maxBytes: 256 });
      const name = r.ok ? r.value.trim() : "";
      if (name) names.push(name);
      else unnamed.push(port);
    }
    const note = unnamed.length > 0 ? `unnamed ports (no /dev/virtio-ports link): ${unnamed.join(", ")}` : undefined;
    return [fact(PARAVIRT_FACT.virtioPorts, names, `${cls.source}/*/name`, "definitive", note)];
  }
  const dev = view.list(VPORT_DEV);
  if (dev.ok) return [fact(PARAVIRT_FACT.virtioPorts, dev.value, dev.source, "definitive")];
  if (cls.missing && dev.missing) return [absent(view, PARAVIRT_FACT.virtioPorts, VPORT_CLASS, [], "no virtio-serial port")];
  return [unknownFact(PARAVIRT_FACT.virtioPorts, cls.source, cls.reason)];
}

function probeClocksources(known: FactSet): Fact[] {
  const avail = known.best(FACT.kernelClocksourceAvailable);
  const pairs: Array<[string, string]> = [
    [PARAVIRT_FACT.kvmClock, "kvm-clock"],
    [PARAVIRT_FACT.hypervTscPage, "hyperv_clocksource_tsc_page"],
  ];
  if (!avail || !Array.isArray(avail.value)) {
    const why = known.unknownReasons(FACT.kernelClocksourceAvailable).join("; ") || "no source listed the available clocksources";
    return pairs.map(([name]) => unknownFact(name, FACT.kernelClocksourceAvailable, why));
  }
  const list = avail.value as readonly string[];
  return pairs.map(([name, cs]) => fact(name, list.includes(cs), `${avail.source} (${FACT.kernelClocksourceAvailable})`, "derived", list.includes(cs) ? `lists ${cs}` : `${cs} not among: ${list.join(" ")}`));
}

/**
 * Paravirtual time devices this machine (or snapshot) shows: a `ptp_kvm`
 * clock, virtio-serial ports (a channel for the agent), and the kvm-clock /
 * Hyper-V TSC page clocksources. Reads only through the system view; never throws.
 */
export class ParavirtDeviceProbe implements CapabilityProbe {
  readonly id = "paravirt-devices";

  probe(view: SystemView, known: FactSet): Fact[] {
    return [...probePtp(view), ...probeVirtioPorts(view), ...probeClocksources(known)];
  }
}
