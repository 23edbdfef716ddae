/**
 * CPUID register sets and the text dump formats found in snapshots.
 *
 * A snapshot's `dev/cpu/0/cpuid` is a text file in one of these formats:
 * - hwloc `pu0`: `# mask e[abcd]x => e[abcd]x` then `MASK EAX EBX ECX EDX => EAX EBX ECX EDX`
 *   (inputs, then outputs; hex without `0x`; the leaf is the input EAX, the subleaf the input ECX).
 * - AIDA64 / EVEREST / InstLatx64: `CPUID LLLLLLLL: EAX-EBX-ECX-EDX [...]`, with `[SL nn]` for
 *   subleaves; repeated per logical CPU (headers `Logical CPU #n`, `CPU#nnn AffMask`, or simply
 *   starting again at leaf 0). Older dumps list a leaf's subleaves as consecutive lines without `[SL]`.
 * - `cpuid -r` (the cpuid tool's raw mode): `0xLLLLLLLL 0xSS: eax=0x… ebx=0x… ecx=0x… edx=0x…`,
 *   under `CPU n:` headers.
 * Only logical CPU 0's values are kept: the first CPU section, first occurrence of each leaf/subleaf.
 */

/** One CPUID result. */
export interface CpuidRegs {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

/** The dump formats we read, plus the live character device. */
export type CpuidFormat = "hwloc" | "aida" | "cpuid-r" | "device";

/** A parsed dump: leaf/subleaf → registers, for logical CPU 0. */
export interface CpuidDump {
  readonly format: Exclude<CpuidFormat, "device">;
  /** Leaves in file order; key `leaf:subleaf` (both unsigned). */
  readonly leaves: ReadonlyMap<string, CpuidRegs & { readonly line: number }>;
}

/** Key of a leaf/subleaf pair in {@link CpuidDump.leaves}. */
export function cpuidKey(leaf: number, subleaf = 0): string {
  return `${leaf >>> 0}:${subleaf >>> 0}`;
}

const HEX32 = "[0-9A-Fa-f]{1,8}";
const HWLOC_LINE = new RegExp(`^\\s*(${HEX32})\\s+(${HEX32})\\s+(${HEX32})\\s+(${HEX32})\\s+(${HEX32})\\s*=>\\s*(${HEX32})\\s+(${HEX32})\\s+(${HEX32})\\s+(${HEX32})\\s*$`);
const AIDA_LINE = /^\s*CPUID\s+([0-9A-Fa-f]{8})\s*:\s*([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})(.*)$/;
const AIDA_SUBLEAF = /\[SL\s+([0-9A-Fa-f]{1,8})\]/;
const AIDA_CPU_HEADER = /Logical CPU #\s*(\d+)|^\s*CPU#\s*(\d+)\s+AffMask/i;
const CPUIDR_LINE = /^\s*0x([0-9A-Fa-f]{1,8})\s+0x([0-9A-Fa-f]{1,8})\s*:\s*eax=0x([0-9A-Fa-f]{1,8})\s+ebx=0x([0-9A-Fa-f]{1,8})\s+ecx=0x([0-9A-Fa-f]{1,8})\s+edx=0x([0-9A-Fa-f]{1,8})\s*$/;
const CPUIDR_CPU_HEADER = /^\s*CPU\s+(\d+)\s*:\s*$/;

const hex = (s: string) => Number.parseInt(s, 16) >>> 0;

/**
 * Parses a CPUID text dump in any supported format. Returns undefined (with
 * the reason) when no line of any format is found.
 */
export function parseCpuidDump(text: string): { ok: true; dump: CpuidDump } | { ok: false; reason: string } {
  const lines = text.split(/\r?\n|\r/);
  let hwloc = 0;
  let aida = 0;
  let cpuidr = 0;
  for (const l of lines) {
    if (HWLOC_LINE.test(l)) hwloc++;
    else if (AIDA_LINE.test(l)) aida++;
    else if (CPUIDR_LINE.test(l)) cpuidr++;
  }
  const best = Math.max(hwloc, aida, cpuidr);
  if (best === 0) return { ok: false, reason: "no CPUID lines in any known dump format (hwloc pu0, AIDA/InstLatx64, cpuid -r)" };
  if (best === hwloc) return { ok: true, dump: { format: "hwloc", leaves: parseHwloc(lines) } };
  if (best === aida) return { ok: true, dump: { format: "aida", leaves: parseAida(lines) } };
  return { ok: true, dump: { format: "cpuid-r", leaves: parseCpuidR(lines) } };
}

type Entry = CpuidRegs & { readonly line: number };

function parseHwloc(lines: readonly string[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  lines.forEach((l, i) => {
    const m = HWLOC_LINE.exec(l);
    if (!m) return;
    const [leaf, subleaf] = [hex(m[2] as string), hex(m[4] as string)];
    const key = cpuidKey(leaf, subleaf);
    if (!out.has(key)) out.set(key, { eax: hex(m[6] as string), ebx: hex(m[7] as string), ecx: hex(m[8] as string), edx: hex(m[9] as string), line: i + 1 });
  });
  return out;
}

function parseAida(lines: readonly string[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  let cpuSections = 0;
  let prevLeaf: number | undefined;
  let prevSubleaf = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    const header = AIDA_CPU_HEADER.exec(l);
    if (header) {
      // A second logical CPU's section: CPU 0's values are complete.
      if (++cpuSections > 1) break;
      prevLeaf = undefined;
      continue;
    }
    const m = AIDA_LINE.exec(l);
    if (!m) continue;
    const leaf = hex(m[1] as string);
    const sl = AIDA_SUBLEAF.exec(m[6] as string);
    let subleaf: number;
    if (sl) subleaf = hex(sl[1] as string);
    else if (leaf === prevLeaf) subleaf = prevSubleaf + 1; // older dumps: consecutive lines are the subleaves
    else subleaf = 0;
    const key = cpuidKey(leaf, subleaf);
    // Dumps without headers simply start over at leaf 0 for the next CPU.
    if (out.has(key) && leaf !== prevLeaf) break;
    if (!out.has(key)) out.set(key, { eax: hex(m[2] as string), ebx: hex(m[3] as string), ecx: hex(m[4] as string), edx: hex(m[5] as string), line: i + 1 });
    prevLeaf = leaf;
    prevSubleaf = subleaf;
  }
  return out;
}

function parseCpuidR(lines: readonly string[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  let cpus = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (CPUIDR_CPU_HEADER.test(l)) {
      if (++cpus > 1) break;
      continue;
    }
    const m = CPUIDR_LINE.exec(l);
    if (!m) continue;
    const key = cpuidKey(hex(m[1] as string), hex(m[2] as string));
    if (!out.has(key)) out.set(key, { eax: hex(m[3] as string), ebx: hex(m[4] as string), ecx: hex(m[5] as string), edx: hex(m[6] as string), line: i + 1 });
  }
  return out;
}

/** Formats registers in the `cpuid -r` raw style (used to write dumps of the live device). */
export function formatCpuidR(entries: Iterable<{ leaf: number; subleaf: number; regs: CpuidRegs }>): string {
  const h = (v: number, w = 8) => `0x${(v >>> 0).toString(16).padStart(w, "0")}`;
  let out = "CPU 0:\n";
  for (const e of entries) out += `   ${h(e.leaf)} ${h(e.subleaf, 2)}: eax=${h(e.regs.eax)} ebx=${h(e.regs.ebx)} ecx=${h(e.regs.ecx)} edx=${h(e.regs.edx)}\n`;
  return out;
}
