import { fact, unknownFact, type Fact } from "../facts.js";
import { FACT } from "../fact-names.js";
import { kernelLogLines, logLineSource } from "../kernel-log.js";
import type { CapabilityProbe } from "../probe.js";
import type { SystemView } from "../system-view.js";

const DIR = "sys/devices/system/clocksource/clocksource0";
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Parses `available_clocksource`: names separated by spaces. Returns undefined if any word is not a clocksource name. */
export function parseClocksourceList(text: string): string[] | undefined {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  return words.every((w) => NAME.test(w)) ? words : undefined;
}

/** The kernel's current and available clocksources, from sysfs, else from the kernel log's last `Switched to clocksource`. */
export class KernelClocksourceProbe implements CapabilityProbe {
  readonly id = "kernel-clocksource";

  probe(view: SystemView): Fact[] {
    const out: Fact[] = [];
    const cur = view.readText(`${DIR}/current_clocksource`);
    if (cur.ok) {
      const name = cur.value.trim();
      out.push(NAME.test(name) ? fact(FACT.kernelClocksourceCurrent, name, cur.source, "definitive") : unknownFact(FACT.kernelClocksourceCurrent, cur.source, "malformed: not a clocksource name"));
    } else {
      out.push(unknownFact(FACT.kernelClocksourceCurrent, cur.source, cur.reason));
    }
    const avail = view.readText(`${DIR}/available_clocksource`);
    if (avail.ok) {
      const names = parseClocksourceList(avail.value);
      out.push(names ? fact(FACT.kernelClocksourceAvailable, names, avail.source, "definitive") : unknownFact(FACT.kernelClocksourceAvailable, avail.source, "malformed: not a list of clocksource names"));
    } else {
      out.push(unknownFact(FACT.kernelClocksourceAvailable, avail.source, avail.reason));
    }
    if (!cur.ok) {
      const log = view.kernelLog();
      if (log.ok) {
        let last: Fact | undefined;
        for (const line of kernelLogLines(log.value)) {
          // "clocksource: Switched to …" since 4.x; "Switched to clocksource …" and "Switching to clocksource …" before.
          const m = /^(?:clocksource: )?Switch(?:ed|ing) to clocksource ([A-Za-z0-9_.-]+)/.exec(line.message);
          if (m) last = fact(FACT.kernelClocksourceCurrent, m[1] as string, logLineSource(log.source, line), "derived", "last clocksource switch in the kernel log");
        }
        if (last) out.push(last);
      }
    }
    return out;
  }
}
