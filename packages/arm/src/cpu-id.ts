/**
 * Arm CPU identification: the Main ID Register (MIDR) fields and names for
 * the implementer and part numbers that Linux prints in `/proc/cpuinfo`.
 */

/** The fields of a MIDR value (`MIDR_EL1` on arm64, `MIDR` on 32-bit Arm). */
export interface Midr {
  /** Bits [31:24]: who designed the core (0x41 Arm, 0x51 Qualcomm, …). */
  readonly implementer: number;
  /** Bits [23:20]: the major revision (the `r` of rNpM). */
  readonly variant: number;
  /** Bits [19:16]: 0xf means "see the ID registers" (every ARMv7+ core). */
  readonly architecture: number;
  /** Bits [15:4]: the implementer's part number (0xd03 Cortex-A53, …). */
  readonly part: number;
  /** Bits [3:0]: the minor revision (the `p` of rNpM). */
  readonly revision: number;
}

/** Splits a 32-bit MIDR value into its fields. */
export function decodeMidr(value: number): Midr {
  return {
    implementer: (value >>> 24) & 0xff,
    variant: (value >>> 20) & 0xf,
    architecture: (value >>> 16) & 0xf,
    part: (value >>> 4) & 0xfff,
    revision: value & 0xf,
  };
}

/**
 * Parses the text of `regs/identification/midr_el1` (`0x00000000412fd050`,
 * a 64-bit register whose upper half is RES0). Returns null when malformed.
 */
export function parseMidrText(text: string): number | null {
  const m = /^\s*0x([0-9a-fA-F]{1,16})\s*$/.exec(text);
  if (!m) return null;
  const v = BigInt(`0x${m[1]}`);
  if (v >> 32n !== 0n) return null;
  return Number(v);
}

const IMPLEMENTERS: Readonly<Record<number, string>> = {
  0x41: "Arm",
  0x42: "Broadcom",
  0x43: "Cavium",
  0x44: "DEC",
  0x46: "Fujitsu",
  0x48: "HiSilicon",
  0x49: "Infineon",
  0x4d: "Motorola/Freescale",
  0x4e: "NVIDIA",
  0x50: "APM",
  0x51: "Qualcomm",
  0x53: "Samsung",
  0x56: "Marvell",
  0x61: "Apple",
  0x66: "Faraday",
  0x69: "Intel",
  0x6d: "Microsoft",
  0x70: "Phytium",
  0xc0: "Ampere",
};

/** Part names per implementer: the common application cores, not an exhaustive list. */
const PARTS: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  0x41: {
    0xb02: "ARM11 MPCore", 0xb36: "ARM1136", 0xb56: "ARM1156", 0xb76: "ARM1176",
    0xc05: "Cortex-A5", 0xc07: "Cortex-A7", 0xc08: "Cortex-A8", 0xc09: "Cortex-A9",
    0xc0d: "Cortex-A12", 0xc0e: "Cortex-A17", 0xc0f: "Cortex-A15",
    0xd01: "Cortex-A32", 0xd02: "Cortex-A34", 0xd03: "Cortex-A53", 0xd04: "Cortex-A35",
    0xd05: "Cortex-A55", 0xd06: "Cortex-A65", 0xd07: "Cortex-A57", 0xd08: "Cortex-A72",
    0xd09: "Cortex-A73", 0xd0a: "Cortex-A75", 0xd0b: "Cortex-A76", 0xd0c: "Neoverse-N1",
    0xd0d: "Cortex-A77", 0xd0e: "Cortex-A76AE", 0xd40: "Neoverse-V1", 0xd41: "Cortex-A78",
    0xd42: "Cortex-A78AE", 0xd43: "Cortex-A65AE", 0xd44: "Cortex-X1", 0xd46: "Cortex-A510",
    0xd47: "Cortex-A710", 0xd48: "Cortex-X2", 0xd49: "Neoverse-N2", 0xd4a: "Neoverse-E1",
    0xd4b: "Cortex-A78C", 0xd4c: "Cortex-X1C", 0xd4d: "Cortex-A715", 0xd4e: "Cortex-X3",
    0xd4f: "Neoverse-V2", 0xd80: "Cortex-A520", 0xd81: "Cortex-A720", 0xd82: "Cortex-X4",
    0xd84: "Neoverse-V3", 0xd85: "Cortex-X925", 0xd87: "Cortex-A725", 0xd8e: "Neoverse-N3",
  },
  0x42: { 0x00f: "Brahma-B15", 0x100: "Brahma-B53", 0x516: "ThunderX2" },
  0x43: { 0x0a0: "ThunderX", 0x0a1: "ThunderX 88XX", 0x0a2: "ThunderX 81XX", 0x0a3: "ThunderX 83XX", 0x0af: "ThunderX2 99XX", 0x0b8: "ThunderX3 T110" },
  0x46: { 0x001: "A64FX", 0x003: "MONAKA" },
  0x48: { 0xd01: "TaiShan v110 (Kunpeng 920)", 0xd02: "TaiShan v120", 0xd40: "Cortex-A76 (HiSilicon)", 0xd41: "Cortex-A77 (HiSilicon)" },
  0x4e: { 0x000: "Denver", 0x003: "Denver 2", 0x004: "Carmel" },
  0x50: { 0x000: "X-Gene" },
  0x51: {
    0x001: "Oryon", 0x00f: "Scorpion", 0x02d: "Scorpion", 0x04d: "Krait", 0x06f: "Krait",
    0x201: "Kryo", 0x205: "Kryo", 0x211: "Kryo", 0x800: "Kryo 2XX Gold", 0x801: "Kryo 2XX Silver",
    0x802: "Kryo 3XX Gold", 0x803: "Kryo 3XX Silver", 0x804: "Kryo 4XX Gold", 0x805: "Kryo 4XX Silver",
    0xc00: "Falkor", 0xc01: "Saphira",
  },
  0x53: { 0x001: "Exynos M1", 0x002: "Exynos M3", 0x003: "Exynos M4", 0x004: "Exynos M5" },
  0x56: { 0x131: "Feroceon 88FR131", 0x581: "PJ4/PJ4b", 0x584: "PJ4B-MP" },
  0x61: {
    0x020: "Icestorm (A14)", 0x021: "Firestorm (A14)", 0x022: "Icestorm (M1)", 0x023: "Firestorm (M1)",
    0x024: "Icestorm (M1 Pro)", 0x025: "Firestorm (M1 Pro)", 0x028: "Icestorm (M1 Max)", 0x029: "Firestorm (M1 Max)",
    0x032: "Blizzard (M2)", 0x033: "Avalanche (M2)",
  },
  0x6d: { 0xd49: "Azure Cobalt 100" },
  0x70: { 0x660: "FTC660", 0x661: "FTC661", 0x662: "FTC662", 0x663: "FTC663", 0x664: "FTC664" },
  0xc0: { 0xac3: "Ampere-1", 0xac4: "Ampere-1a" },
};

/** The implementer's name, or null when the code is not in the table. */
export function implementerName(code: number): string | null {
  return IMPLEMENTERS[code] ?? null;
}

/** The part's name for that implementer, or null when not in the table. */
export function partName(implementer: number, part: number): string | null {
  return PARTS[implementer]?.[part] ?? null;
}

/** `0x41`, `0xd03`: the way cpuinfo prints the codes. */
export function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

/**
 * Whether a core implements the Generic Timer (the CP15 system counter):
 * every ARMv8+ core does, in AArch64 and AArch32; among 32-bit designs only
 * the Virtualization-Extension cores (Cortex-A7/A12/A15/A17) do. Returns null
 * when the part is not one this table knows.
 */
export function coreHasGenericTimer(implementer: number, part: number): boolean | null {
  if (implementer === 0x41) {
    if ([0xc07, 0xc0d, 0xc0e, 0xc0f].includes(part)) return true;
    if ([0xb02, 0xb36, 0xb56, 0xb76, 0xc05, 0xc08, 0xc09].includes(part)) return false;
    // 0xd.. parts are the ARMv8 and later A-profile cores (R/M-profile parts are never Linux CPUs here).
    if (part >= 0xd01 && part <= 0xdff && partName(implementer, part)?.startsWith("Cortex-R") !== true) return true;
    return null;
  }
  if (implementer === 0x51 && (part === 0x00f || part === 0x02d)) return false; // Scorpion: ARMv7 without the extension
  return null;
}
