import type { SystemView } from "@clocksource/core";
import { cpuidKey, parseCpuidDump, type CpuidFormat, type CpuidRegs } from "./cpuid-dump.js";

/** Where CPUID lives under the root. */
export const CPUID_PATH = "dev/cpu/0/cpuid";

/** The result of asking for one leaf. */
export type LeafOutcome =
  | { readonly ok: true; readonly regs: CpuidRegs; readonly source: string }
  | { readonly ok: false; readonly reason: string; readonly source: string };

/**
 * CPUID of logical CPU 0, from the live character device or a snapshot's text
 * dump. Reads never throw; a leaf that cannot be had says why.
 */
export interface CpuidSource {
  readonly format: CpuidFormat;
  /** How facts name it, e.g. `/dev/cpu/0/cpuid` or `dev/cpu/0/cpuid (AIDA dump)`. */
  readonly describe: string;
  leaf(leaf: number, subleaf?: number): LeafOutcome;
}

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;

/** Names a leaf in a fact source: `dev/cpu/0/cpuid leaf 0x80000007 EDX[8]`. */
export function leafName(leaf: number, subleaf = 0): string {
  return subleaf === 0 ? `leaf ${hex(leaf)}` : `leaf ${hex(leaf)} subleaf ${subleaf}`;
}

/** Decodes the 16 bytes the cpuid driver returns: EAX, EBX, ECX, EDX little-endian. */
export function decodeCpuidBytes(bytes: Uint8Array): CpuidRegs {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { eax: dv.getUint32(0, true), ebx: dv.getUint32(4, true), ecx: dv.getUint32(8, true), edx: dv.getUint32(12, true) };
}

/**
 * Opens CPUID under the view's root. A character device is read with `pread`
 * at `leaf | subleaf << 32` (needs root on Linux); a regular file is parsed as
 * a dump. Returns the reason when neither works (absent, permission denied,
 * not a dump).
 */
export function openCpuid(view: SystemView): { ok: true; cpuid: CpuidSource } | { ok: false; reason: string; source: string } {
  const kind = view.kind(CPUID_PATH);
  const base = view.describe(CPUID_PATH);
  if (!kind.ok) return { ok: false, reason: kind.reason, source: base };
  if (kind.value === "character-device") {
    // One probe read up front so a permission problem is reported once, as such.
    const first = view.readAt(CPUID_PATH, 0n, 16);
    if (!first.ok) return { ok: false, reason: /permission/i.test(first.reason) ? "needs root: permission denied reading the cpuid device" : first.reason, source: base };
    // That read is leaf 0: kept, as a read of the device costs a CPUID on CPU 0 (a cross-CPU call, and in a guest an exit).
    const cache = new Map<string, LeafOutcome>([[cpuidKey(0, 0), { ok: true, regs: decodeCpuidBytes(first.value), source: `${base} ${leafName(0)}` }]]);
    return {
      ok: true,
      cpuid: {
        format: "device",
        describe: base,
        leaf(leaf, subleaf = 0) {
          const key = cpuidKey(leaf, subleaf);
          const hit = cache.get(key);
          if (hit) return hit;
          const source = `${base} ${leafName(leaf, subleaf)}`;
          const r = view.readAt(CPUID_PATH, BigInt(leaf >>> 0) | (BigInt(subleaf >>> 0) << 32n), 16);
          const out: LeafOutcome = r.ok ? { ok: true, regs: decodeCpuidBytes(r.value), source } : { ok: false, reason: r.reason, source };
          cache.set(key, out);
          return out;
        },
      },
    };
  }
  if (kind.value !== "file") return { ok: false, reason: `is a ${kind.value}, neither the cpuid device nor a dump`, source: base };
  const text = view.readText(CPUID_PATH);
  if (!text.ok) return { ok: false, reason: text.reason, source: base };
  const parsed = parseCpuidDump(text.value);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, source: base };
  const { dump } = parsed;
  const label = { hwloc: "hwloc pu0 dump", aida: "AIDA/InstLatx64 dump", "cpuid-r": "cpuid -r dump" }[dump.format];
  return {
    ok: true,
    cpuid: {
      format: dump.format,
      describe: `${base} (${label})`,
      leaf(leaf, subleaf = 0) {
        const e = dump.leaves.get(cpuidKey(leaf, subleaf));
        if (!e) return { ok: false, reason: `${leafName(leaf, subleaf)} is not in the dump`, source: `${base} (${label})` };
        return { ok: true, regs: e, source: `${base}:${e.line} ${leafName(leaf, subleaf)}` };
      },
    },
  };
}
