/** One processor block of `/proc/cpuinfo`: its `key : value` pairs in order (keys lower-cased, trimmed). */
export type CpuinfoBlock = ReadonlyMap<string, string>;

/**
 * Splits `/proc/cpuinfo` into blocks separated by blank lines. Lines that are
 * not `key : value` are ignored. Works for x86, arm64 and the old 32-bit Arm
 * layout (`Processor : ...` header, then per-CPU `processor : N` blocks, then
 * trailing `Hardware`/`Revision` lines).
 */
export function parseCpuinfo(text: string): CpuinfoBlock[] {
  const blocks: Map<string, string>[] = [];
  let current = new Map<string, string>();
  for (const line of text.split(/\r?\n|\r/)) {
    if (line.trim() === "") {
      if (current.size > 0) blocks.push(current);
      current = new Map();
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const key = line.slice(0, i).trim().toLowerCase();
    if (key.length === 0 || current.has(key)) continue;
    current.set(key, line.slice(i + 1).trim());
  }
  if (current.size > 0) blocks.push(current);
  return blocks;
}

/** The first value of `key` across all blocks. */
export function cpuinfoValue(blocks: readonly CpuinfoBlock[], key: string): string | undefined {
  for (const b of blocks) {
    const v = b.get(key);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The words of a space-separated cpuinfo field (`flags`, `Features`), from the first block that has it. */
export function cpuinfoWords(blocks: readonly CpuinfoBlock[], key: string): Set<string> | undefined {
  const v = cpuinfoValue(blocks, key);
  return v === undefined ? undefined : new Set(v.split(/\s+/).filter((w) => w.length > 0));
}
