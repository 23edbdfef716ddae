/**
 * The CPU types of an Arm machine: one entry per distinct MIDR value, so a
 * heterogeneous (big.LITTLE / DynamIQ) SoC lists each of its core types.
 */
import { decodeMidr, hex, implementerName, partName, type Midr } from "./cpu-id.js";

/** One kind of core present on the machine. */
export interface CpuType extends Midr {
  /** The CPU numbers with this type, ascending; empty when the source does not number them. */
  readonly cpus: readonly number[];
}

/** The JSON form used in facts: codes as cpuinfo prints them, plus names when known. */
export interface CpuTypeJson {
  readonly [k: string]: string | number | null;
  readonly implementer: string;
  readonly implementerName: string | null;
  readonly part: string;
  readonly partName: string | null;
  readonly variant: string;
  readonly revision: number;
  /** `Arm Cortex-A53 r0p4`, or the codes when the names are unknown. */
  readonly name: string;
  /** How many CPUs have this type (0 when the source does not number them). */
  readonly count: number;
  /** `0-3,6`; empty when unnumbered. */
  readonly cpus: string;
}

/** Compresses ascending CPU numbers to `0-3,6`. */
export function cpuRanges(cpus: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < cpus.length) {
    let j = i;
    while (j + 1 < cpus.length && (cpus[j + 1] as number) === (cpus[j] as number) + 1) j++;
    parts.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** A human name: `Arm Cortex-A53 r0p4`, `Qualcomm Kryo 2XX Silver r10p4`, `0x4e part 0x005 r0p0`. */
export function cpuTypeName(t: Midr): string {
  const impl = implementerName(t.implementer) ?? `implementer ${hex(t.implementer, 2)}`;
  const part = partName(t.implementer, t.part) ?? `part ${hex(t.part, 3)}`;
  return `${impl} ${part} r${t.variant}p${t.revision}`;
}

/** The fact form of a CPU type. */
export function cpuTypeJson(t: CpuType): CpuTypeJson {
  return {
    implementer: hex(t.implementer, 2),
    implementerName: implementerName(t.implementer),
    part: hex(t.part, 3),
    partName: partName(t.implementer, t.part),
    variant: hex(t.variant, 1),
    revision: t.revision,
    name: cpuTypeName(t),
    count: t.cpus.length,
    cpus: cpuRanges(t.cpus),
  };
}

const key = (t: Midr) => `${t.implementer}:${t.variant}:${t.part}:${t.revision}`;

function parseCode(v: string | undefined, max: number): number | null {
  if (v === undefined) return null;
  const m = /^(0x[0-9a-fA-F]+|[0-9]+)$/.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isInteger(n) && n >= 0 && n <= max ? n : null;
}

/** The result of reading CPU types from `/proc/cpuinfo`. */
export type CpuTypesOutcome =
  | {
      readonly ok: true;
      readonly types: readonly CpuType[];
      /** True for the old 32-bit layout: one identification (the boot CPU's) printed for all CPUs. */
      readonly sharedIdentification: boolean;
    }
  | { readonly ok: false; readonly reason: string };

/** One blank-line-separated block: its first value per key, and the numeric `processor` line if any. */
function armBlocks(text: string): { fields: Map<string, string>; processor: number | null }[] {
  const out: { fields: Map<string, string>; processor: number | null }[] = [];
  for (const block of parseCpuinfoBlocksRaw(text)) {
    let processor: number | null = null;
    const fields = new Map<string, string>();
    for (const [k, v] of block) {
      // Old arm64 and 32-bit kernels print a `Processor : <name>` header before `processor : 0`:
      // keys differ only in case, so the numeric one is looked for explicitly.
      if (k === "processor" && /^[0-9]+$/.test(v)) {
        processor ??= Number(v);
        continue;
      }
      if (!fields.has(k)) fields.set(k, v);
    }
    out.push({ fields, processor });
  }
  return out;
}

function parseCpuinfoBlocksRaw(text: string): [string, string][][] {
  const blocks: [string, string][][] = [];
  let cur: [string, string][] = [];
  for (const line of text.split(/\r?\n|\r/)) {
    if (line.trim() === "") {
      if (cur.length) blocks.push(cur);
      cur = [];
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    cur.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
  }
  if (cur.length) blocks.push(cur);
  return blocks;
}

/**
 * Groups the processor blocks of an Arm `/proc/cpuinfo` by their
 * implementer/variant/part/revision. Works for the arm64 layout (one block per
 * CPU, sometimes after a `Processor : <name>` header line) and the old 32-bit
 * layout (numbered blocks without identification, then one identification
 * block that describes the boot CPU and is taken to cover all of them).
 */
export function cpuTypesFromCpuinfo(text: string): CpuTypesOutcome {
  const blocks = armBlocks(text);
  const groups = new Map<string, { midr: Midr; cpus: number[] }>();
  let sawImplementer = false;
  const idBlocksWithoutNumber: Midr[] = [];
  const numberedWithoutId: number[] = [];
  for (const b of blocks) {
    const implText = b.fields.get("cpu implementer");
    if (implText === undefined) {
      if (b.processor !== null) numberedWithoutId.push(b.processor);
      continue;
    }
    sawImplementer = true;
    const implementer = parseCode(implText, 0xff);
    const part = parseCode(b.fields.get("cpu part"), 0xfff);
    const variant = parseCode(b.fields.get("cpu variant"), 0xf);
    const revision = parseCode(b.fields.get("cpu revision"), 0xf);
    if (implementer === null || part === null || variant === null || revision === null) {
      return { ok: false, reason: `malformed CPU identification (implementer ${JSON.stringify(implText)}, part ${JSON.stringify(b.fields.get("cpu part") ?? null)}, variant ${JSON.stringify(b.fields.get("cpu variant") ?? null)}, revision ${JSON.stringify(b.fields.get("cpu revision") ?? null)})` };
    }
    const midr: Midr = { implementer, variant, architecture: 0xf, part, revision };
    const g = groups.get(key(midr)) ?? { midr, cpus: [] };
    if (b.processor !== null) g.cpus.push(b.processor);
    else idBlocksWithoutNumber.push(midr);
    groups.set(key(midr), g);
  }
  if (!sawImplementer) return { ok: false, reason: "no `CPU implementer` lines (not an Arm cpuinfo)" };
  const shared = groups.size === 1 && idBlocksWithoutNumber.length === 1 && numberedWithoutId.length > 0;
  if (shared) (groups.values().next().value as { cpus: number[] }).cpus.push(...numberedWithoutId);
  return { ok: true, types: [...groups.values()].map((g) => ({ ...g.midr, cpus: g.cpus.sort((a, b) => a - b) })), sharedIdentification: shared };
}

/** Groups per-CPU MIDR values (from sysfs `midr_el1` files) into types. */
export function cpuTypesFromMidrs(midrs: ReadonlyMap<number, number>): CpuType[] {
  const groups = new Map<string, { midr: Midr; cpus: number[] }>();
  for (const [cpu, value] of [...midrs].sort((a, b) => a[0] - b[0])) {
    const midr = decodeMidr(value);
    const g = groups.get(key(midr)) ?? { midr, cpus: [] };
    g.cpus.push(cpu);
    groups.set(key(midr), g);
  }
  return [...groups.values()].map((g) => ({ ...g.midr, cpus: g.cpus }));
}
