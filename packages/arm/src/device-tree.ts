/**
 * A reader for the device tree as Linux exposes it in sysfs
 * (`/sys/firmware/devicetree/base`, also `/proc/device-tree`): every node is a
 * directory, every property a file holding the property's raw bytes. Strings
 * are NUL-terminated (a string list is several of them back to back), cells
 * are big-endian u32s, and a boolean property is a zero-length file whose
 * presence is the value.
 *
 * Everything is read through a {@link SystemView}; nothing throws on odd
 * input. Malformed properties come back as `{ ok: false, reason }` so a probe
 * can turn them into unknown facts.
 */
import type { SystemView } from "@clocksource/core";

/** Where the kernel exposes the flattened device tree it booted with. */
export const DEVICE_TREE_BASE = "sys/firmware/devicetree/base";

/** A decoded property value, or why it could not be decoded. */
export type PropertyOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * Decodes a string-list property (`compatible`, `status`, `interrupt-names`):
 * NUL-terminated printable strings back to back. A single string is a list of one.
 */
export function decodeStringList(bytes: Uint8Array): PropertyOutcome<string[]> {
  if (bytes.length === 0) return { ok: false, reason: "empty (a string property needs at least a NUL terminator)" };
  if (bytes[bytes.length - 1] !== 0) return { ok: false, reason: "not NUL-terminated" };
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0) {
      out.push(new TextDecoder("latin1").decode(bytes.subarray(start, i)));
      start = i + 1;
    } else if (b < 0x20 || b > 0x7e) {
      return { ok: false, reason: `byte 0x${b.toString(16).padStart(2, "0")} at offset ${i} is not printable text` };
    }
  }
  return { ok: true, value: out };
}

/** Decodes a property of big-endian 32-bit cells (`clock-frequency`, `interrupts`, `reg`). */
export function decodeCells(bytes: Uint8Array): PropertyOutcome<number[]> {
  if (bytes.length === 0) return { ok: false, reason: "empty (expected 32-bit cells)" };
  if (bytes.length % 4 !== 0) return { ok: false, reason: `${bytes.length} bytes is not a whole number of 32-bit cells` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) out.push(dv.getUint32(i, false));
  return { ok: true, value: out };
}

/** Decodes a single-cell u32 property such as `clock-frequency`. */
export function decodeU32(bytes: Uint8Array): PropertyOutcome<number> {
  if (bytes.length !== 4) return { ok: false, reason: `${bytes.length} bytes; a u32 cell is 4 bytes` };
  const cells = decodeCells(bytes);
  return cells.ok ? { ok: true, value: cells.value[0] as number } : cells;
}

/** One node of the tree: its path, its property files and its child node names. */
export interface DeviceTreeNode {
  /** Path relative to the tree's base, `/` for the root (`/soc/amba/arm-timer`). */
  readonly path: string;
  /** Path of the node's directory relative to the system root (for fact sources). */
  readonly dir: string;
  readonly properties: readonly string[];
  readonly children: readonly string[];
}

/** The outcome of walking a tree: the nodes visited, and what could not be read. */
export interface DeviceTreeWalk {
  /** False when the base directory itself is missing or unreadable (`reason` says which). */
  readonly present: boolean;
  readonly reason?: string;
  /** The base directory as the view names it. */
  readonly source: string;
  readonly nodes: readonly DeviceTreeNode[];
  /** Directories or entries that could not be read, with the reason; the walk went on without them. */
  readonly problems: readonly string[];
  /** True when the walk stopped at {@link WalkLimits} before seeing every node. */
  readonly truncated: boolean;
}

/** Bounds that keep a walk finite on a corrupt or hostile snapshot. */
export interface WalkLimits {
  readonly maxNodes: number;
  readonly maxDepth: number;
}

/** Real trees have a few thousand nodes at most and are rarely deeper than 10. */
export const DEFAULT_WALK_LIMITS: WalkLimits = { maxNodes: 50_000, maxDepth: 64 };

/**
 * Walks the whole device tree under `base` breadth-first, classifying each
 * directory entry as a property (a regular file) or a child node (a directory).
 * Children are visited in name order, which is what sysfs gives; the order of
 * nodes in the original blob is not recoverable from sysfs.
 */
export function walkDeviceTree(view: SystemView, base = DEVICE_TREE_BASE, limits: WalkLimits = DEFAULT_WALK_LIMITS): DeviceTreeWalk {
  const top = view.list(base);
  if (!top.ok) return { present: false, reason: top.reason, source: top.source, nodes: [], problems: [], truncated: false };
  const nodes: DeviceTreeNode[] = [];
  const problems: string[] = [];
  const queue: { path: string; dir: string; depth: number; entries?: string[] }[] = [{ path: "/", dir: base, depth: 0, entries: top.value }];
  let truncated = false;
  while (queue.length > 0) {
    const item = queue.shift() as (typeof queue)[number];
    if (nodes.length >= limits.maxNodes) {
      truncated = true;
      break;
    }
    let entries = item.entries;
    if (!entries) {
      const listed = view.list(item.dir);
      if (!listed.ok) {
        problems.push(`${listed.source}: ${listed.reason}`);
        continue;
      }
      entries = listed.value;
    }
    const properties: string[] = [];
    const children: string[] = [];
    for (const name of entries) {
      const entry = `${item.dir}/${name}`;
      const kind = view.kind(entry);
      if (!kind.ok) {
        problems.push(`${kind.source}: ${kind.reason}`);
        continue;
      }
      if (kind.value === "directory") children.push(name);
      else if (kind.value === "file") properties.push(name);
      else problems.push(`${kind.source}: a ${kind.value}, neither a node nor a property`);
    }
    nodes.push({ path: item.path, dir: item.dir, properties, children });
    for (const child of children) {
      if (item.depth + 1 > limits.maxDepth) {
        truncated = true;
        continue;
      }
      queue.push({ path: item.path === "/" ? `/${child}` : `${item.path}/${child}`, dir: `${item.dir}/${child}`, depth: item.depth + 1 });
    }
  }
  return { present: true, source: view.describe(base), nodes, problems, truncated };
}

/** Reads a property's raw bytes; `missing` tells an absent property from an unreadable one. */
export function readProperty(view: SystemView, node: DeviceTreeNode, name: string): { ok: true; bytes: Uint8Array; source: string } | { ok: false; missing: boolean; reason: string; source: string } {
  const path = `${node.dir}/${name}`;
  if (!node.properties.includes(name)) return { ok: false, missing: true, reason: "not present", source: view.describe(path) };
  // Properties are small; a bound keeps a corrupt snapshot from being read whole.
  const r = view.readBytes(path, { maxBytes: 64 * 1024 });
  if (!r.ok) return { ok: false, missing: r.missing, reason: r.reason, source: r.source };
  if (r.truncated) return { ok: false, missing: false, reason: "larger than 64 KiB: not a device-tree property", source: r.source };
  return { ok: true, bytes: r.value, source: r.source };
}

/**
 * Whether the kernel treats a node as available (`of_device_is_available`):
 * no `status` property, or `status` = `okay` / `ok`. Any other status (usually
 * `disabled`, but also a malformed value) means drivers skip the node.
 * `enabled` is null only when the status file exists but cannot be read.
 */
export function nodeStatus(view: SystemView, node: DeviceTreeNode): { enabled: boolean | null; status: string | null; source: string; problem?: string } {
  const p = readProperty(view, node, "status");
  if (!p.ok) {
    if (p.missing) return { enabled: true, status: null, source: p.source };
    return { enabled: null, status: null, source: p.source, problem: `${p.source}: ${p.reason}` };
  }
  const s = decodeStringList(p.bytes);
  if (!s.ok) return { enabled: false, status: null, source: p.source, problem: `${p.source}: ${s.reason}; the kernel accepts only "okay" or "ok" as enabled` };
  const status = s.value[0] ?? "";
  return { enabled: status === "okay" || status === "ok", status, source: p.source };
}
