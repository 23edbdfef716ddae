/**
 * Finds the architected timer in a device tree, wherever its node sits (most
 * boards use `/timer`, but e.g. HiSilicon camera SoCs put it at
 * `/soc/amba/arm-timer`, and many trees have unrelated `timer@…` nodes), and
 * the other timers a board may use instead.
 */
import type { SystemView } from "@clocksource/core";
import { decodeStringList, nodeStatus, readProperty, walkDeviceTree, DEVICE_TREE_BASE, type DeviceTreeNode, type DeviceTreeWalk } from "./device-tree.js";
import { COUNTER_ERRATA, type CounterErratum } from "./errata.js";

/** The compatible strings the arch-timer driver binds (the CP15 system counter and timers). */
export const ARCH_TIMER_COMPATIBLES = ["arm,armv8-timer", "arm,armv7-timer"] as const;
/** The memory-mapped counter/timer frame of the same architecture (`arch_mem_counter`). */
export const ARCH_TIMER_MEM_COMPATIBLE = "arm,armv7-timer-mem";

/** A device-tree node describing an architected timer, with the properties the kernel reads. */
export interface ArchTimerNode {
  /** Path in the tree (`/timer`, `/soc/amba/arm-timer`). */
  readonly path: string;
  readonly compatible: readonly string[];
  /** `compatible` as the view names it, for fact sources. */
  readonly compatibleSource: string;
  /** Whether the kernel would bind it (status absent, `okay` or `ok`); null when the status is unreadable. */
  readonly enabled: boolean | null;
  readonly status: string | null;
  readonly statusSource: string;
  /** `clock-frequency` in Hz, when present and well-formed. */
  readonly clockFrequency: { readonly hz: number; readonly source: string } | null;
  readonly alwaysOn: { readonly source: string } | null;
  readonly noTickInSuspend: { readonly source: string } | null;
  /** Errata the node's properties declare. */
  readonly errata: readonly { readonly erratum: CounterErratum; readonly source: string }[];
  /** Properties present but unreadable or malformed. */
  readonly problems: readonly string[];
}

/** A timer node that is not the architected timer (a board or vendor timer, or the MMIO frame). */
export interface OtherTimerNode {
  readonly path: string;
  readonly compatible: readonly string[];
  readonly enabled: boolean | null;
  readonly source: string;
}

/** The timers a device tree describes. */
export interface DeviceTreeTimers {
  readonly walk: DeviceTreeWalk;
  /** Architected-timer nodes in walk order (enabled or not). */
  readonly archTimers: readonly ArchTimerNode[];
  /** `arm,armv7-timer-mem` frames. */
  readonly mmioFrames: readonly OtherTimerNode[];
  /** Other nodes that look like timers. */
  readonly otherTimers: readonly OtherTimerNode[];
  /** Unreadable or malformed `compatible` properties met while walking. */
  readonly problems: readonly string[];
}

function hasProperty(view: SystemView, node: DeviceTreeNode, name: string): { source: string } | null {
  return node.properties.includes(name) ? { source: view.describe(`${node.dir}/${name}`) } : null;
}

function readArchTimer(view: SystemView, node: DeviceTreeNode, compatible: string[], compatibleSource: string): ArchTimerNode {
  const problems: string[] = [];
  const st = nodeStatus(view, node);
  if (st.problem) problems.push(st.problem);
  let clockFrequency: ArchTimerNode["clockFrequency"] = null;
  const cf = readProperty(view, node, "clock-frequency");
  if (cf.ok) {
    // The kernel reads the first cell (of_property_read_u32), so a longer property still counts.
    if (cf.bytes.length < 4) problems.push(`${cf.source}: ${cf.bytes.length} bytes; a u32 cell needs 4`);
    else {
      const hz = new DataView(cf.bytes.buffer, cf.bytes.byteOffset, 4).getUint32(0, false);
      if (cf.bytes.length !== 4) problems.push(`${cf.source}: ${cf.bytes.length} bytes; only the first cell is used`);
      if (hz === 0) problems.push(`${cf.source}: 0 Hz`);
      else clockFrequency = { hz, source: cf.source };
    }
  } else if (!cf.missing) {
    problems.push(`${cf.source}: ${cf.reason}`);
  }
  const errata: { erratum: CounterErratum; source: string }[] = [];
  for (const e of COUNTER_ERRATA) {
    if (!e.dtProperty) continue;
    const p = hasProperty(view, node, e.dtProperty);
    if (p) errata.push({ erratum: e, source: p.source });
  }
  return {
    path: node.path,
    compatible,
    compatibleSource,
    enabled: st.enabled,
    status: st.status,
    statusSource: st.source,
    clockFrequency,
    alwaysOn: hasProperty(view, node, "always-on"),
    noTickInSuspend: hasProperty(view, node, "arm,no-tick-in-suspend"),
    errata,
    problems,
  };
}

const OTHER_TIMER = /timer|\bttc\b|sp804|systimer/i;

/**
 * Walks the whole tree and collects the timer nodes. A missing tree (an ACPI
 * or x86 machine, or a snapshot without it) gives `walk.present = false`.
 */
export function findDeviceTreeTimers(view: SystemView, base = DEVICE_TREE_BASE): DeviceTreeTimers {
  const walk = walkDeviceTree(view, base);
  const archTimers: ArchTimerNode[] = [];
  const mmioFrames: OtherTimerNode[] = [];
  const otherTimers: OtherTimerNode[] = [];
  const problems: string[] = [...walk.problems];
  for (const node of walk.nodes) {
    const p = readProperty(view, node, "compatible");
    if (!p.ok) {
      if (!p.missing) problems.push(`${p.source}: ${p.reason}`);
      continue;
    }
    const list = decodeStringList(p.bytes);
    if (!list.ok) {
      problems.push(`${p.source}: ${list.reason}`);
      continue;
    }
    const compatible = list.value;
    if (compatible.some((c) => (ARCH_TIMER_COMPATIBLES as readonly string[]).includes(c))) {
      archTimers.push(readArchTimer(view, node, compatible, p.source));
    } else if (compatible.includes(ARCH_TIMER_MEM_COMPATIBLE)) {
      mmioFrames.push({ path: node.path, compatible, enabled: nodeStatus(view, node).enabled, source: p.source });
    } else if (node.path !== "/" && (compatible.some((c) => OTHER_TIMER.test(c)) || /^timer(@|$)/.test(node.path.split("/").pop() ?? ""))) {
      otherTimers.push({ path: node.path, compatible, enabled: nodeStatus(view, node).enabled, source: p.source });
    }
  }
  return { walk, archTimers, mmioFrames, otherTimers, problems };
}
