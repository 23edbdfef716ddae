/**
 * What the kernel log says about the Arm architected timer. The arch-timer
 * driver has printed its banner in several forms over the years, and vendor
 * kernels prefix lines with their own tags (`[0:  swapper/0:    0]`,
 * `-(0)[0:swapper/0]`, `[pid:0,cpu0,swapper/0]`), so every pattern here is
 * searched anywhere in the line rather than anchored at its start.
 */
import { kernelLogLines, parseDecimalScaled, type KernelLogLine } from "@clocksource/core";

/** Which counters the banner names: the CP15 system counter, the memory-mapped frame, or both. */
export type BannerTimers = "cp15" | "mmio" | "cp15+mmio";

/** One arch-timer banner line. */
export interface TimerBanner {
  readonly line: KernelLogLine;
  readonly timers: BannerTimers;
  /** The rate as printed, truncated by the kernel to 10 kHz: the true rate is in [rateHz, rateHz + 10 kHz). */
  readonly rateHz: number;
  /** The printed text, e.g. `24.00MHz`. */
  readonly rateText: string;
  /** The counter the CP15 timer reads (`virt`/`phys`), or null when the line does not say or names only MMIO. */
  readonly cp15Counter: "virt" | "phys" | null;
  /** The counter of the memory-mapped frame, when the banner names one. */
  readonly mmioCounter: "virt" | "phys" | null;
}

/** A `sched_clock: N bits at R` line. */
export interface SchedClockLine {
  readonly line: KernelLogLine;
  readonly bits: number;
  /** The rate as printed: MHz and kHz values are rounded (or truncated) by the kernel. */
  readonly rate: number;
  readonly unit: "MHz" | "kHz" | "Hz";
}

/** A clocksource registration line with its mask (`clocksource: arch_sys_counter: mask: 0xffffffffffffff …`). */
export interface ClocksourceMaskLine {
  readonly line: KernelLogLine;
  readonly clocksource: string;
  readonly mask: bigint;
  /** The width when the mask is 2^w − 1, else null. */
  readonly width: number | null;
}

/** An arch-timer `Enabling global|local workaround for …` line. */
export interface WorkaroundLine {
  readonly line: KernelLogLine;
  readonly scope: "global" | "local";
  readonly description: string;
}

/** Everything timer-related found in a kernel log. */
export interface TimerLog {
  readonly banners: readonly TimerBanner[];
  /** MediaTek kernels print the exact rate in hex: `arch_timer_rate(0xc65d40)`. */
  readonly exactRates: readonly { readonly line: KernelLogLine; readonly hz: number }[];
  readonly schedClocks: readonly SchedClockLine[];
  readonly masks: readonly ClocksourceMaskLine[];
  readonly workarounds: readonly WorkaroundLine[];
  /** Lines that mention an erratum or errata workaround (any subsystem), for matching known counter errata. */
  readonly errataLines: readonly KernelLogLine[];
  /** `CPUn: Trapping CNTVCT access`: user-space counter reads trap to the kernel. */
  readonly cntvctTrapping: readonly KernelLogLine[];
  /** The boot CPU's MIDR when the log prints it. */
  readonly bootMidr: { readonly line: KernelLogLine; readonly value: number } | null;
  /** The architecture the log's own lines imply, when one does. */
  readonly archHint: { readonly line: KernelLogLine; readonly arch: "arm64" | "arm"; readonly why: string } | null;
  /** `Switched to clocksource X` lines, in order. */
  readonly clocksourceSwitches: readonly { readonly line: KernelLogLine; readonly name: string }[];
  /** True when the log reaches back to the start of boot (`Booting Linux on physical CPU`). */
  readonly fromBoot: boolean;
}

const BANNER = /(?:(?:arm_)?arch_timer: |Architected )(cp15 and mmio|cp15|mmio|local) timers?(?:\(s\))? running at (\d+)\.(\d{2}) ?MHz(?: \(([a-z]+)(?:\/([a-z]+))?\))?/;
const SCHED_CLOCK = /sched_clock: (\d+) bits at (\d+)(M|k)?Hz/;
const MASK = /clocksource:? ([A-Za-z0-9_,.-]+): mask: 0x([0-9a-fA-F]{1,16})\b/;
const WORKAROUND = /(?:(?:arm_)?arch_timer: )?Enabling (global|local) workaround for (.+?)\.?\s*$/;
const ERRATA_MENTION = /errat(?:um|a)|workaround/i;
const TRAPPING = /CPU\d+: Trapping CNTVCT access/;
const EXACT_RATE = /arch_timer_rate\((0x[0-9a-fA-F]{1,8})\)/;
const BOOT_MIDR_ARM64 = /Booting Linux on physical CPU 0x[0-9a-fA-F]{10} \[0x([0-9a-fA-F]{8})\]/;
const CPU_LINE_AARCH64 = /(?:Boot CPU|CPU): AArch64 Processor \[([0-9a-fA-F]{8})\]/;
const CPU_LINE_ARM32 = /CPU: .+? \[([0-9a-fA-F]{8})\] revision \d+ \(ARMv[0-9A-Za-z]+\), cr=[0-9a-fA-F]+/;
const CPU_LINE_OTHER = /\bCPU: [A-Za-z].*? \[([0-9a-fA-F]{8})\] revision \d+\s*$/;
const SWITCH = /Switch(?:ed|ing) to clocksource ([A-Za-z0-9_,.-]+)/;

function maskWidth(mask: bigint): number | null {
  if (mask === 0n) return null;
  const w = mask.toString(2).length;
  return mask === (1n << BigInt(w)) - 1n ? w : null;
}

/**
 * Parses the banner's exact `MHz` figure (`24.00`, `1.92`) into Hz without
 * floating point (core `parseDecimalScaled`); null when it is not one or is
 * too large to be a rate (a corrupt log line).
 */
export function bannerRateHz(whole: string, hundredths: string): number | null {
  const hz = parseDecimalScaled(`${whole}.${hundredths}`, 6);
  return hz === null || hz > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(hz);
}

/** Scans a kernel log for everything the Arm timer probe uses. */
export function parseTimerLog(text: string): TimerLog {
  const banners: TimerBanner[] = [];
  const exactRates: { line: KernelLogLine; hz: number }[] = [];
  const schedClocks: SchedClockLine[] = [];
  const masks: ClocksourceMaskLine[] = [];
  const workarounds: WorkaroundLine[] = [];
  const errataLines: KernelLogLine[] = [];
  const cntvctTrapping: KernelLogLine[] = [];
  const clocksourceSwitches: { line: KernelLogLine; name: string }[] = [];
  let bootMidr: TimerLog["bootMidr"] = null;
  let archHint: TimerLog["archHint"] = null;
  let fromBoot = false;
  for (const line of kernelLogLines(text)) {
    const msg = line.message;
    if (/Booting Linux on physical CPU/.test(msg)) fromBoot = true;
    let m = BANNER.exec(msg);
    const rateHz = m ? bannerRateHz(m[2] as string, m[3] as string) : null;
    if (m && rateHz !== null) {
      const kind = m[1] as string;
      const timers: BannerTimers = kind === "cp15 and mmio" ? "cp15+mmio" : kind === "mmio" ? "mmio" : "cp15";
      const first = (m[4] as "virt" | "phys" | undefined) ?? null;
      const second = (m[5] as "virt" | "phys" | undefined) ?? null;
      const counter = (v: string | null) => (v === "virt" || v === "phys" ? v : null);
      banners.push({
        line,
        timers,
        rateHz,
        rateText: `${m[2]}.${m[3]}MHz`,
        cp15Counter: timers === "mmio" ? null : counter(first),
        mmioCounter: timers === "mmio" ? counter(first) : timers === "cp15+mmio" ? counter(second) : null,
      });
    }
    m = EXACT_RATE.exec(msg);
    if (m) exactRates.push({ line, hz: Number(m[1]) });
    m = SCHED_CLOCK.exec(msg);
    if (m) schedClocks.push({ line, bits: Number(m[1]), rate: Number(m[2]), unit: m[3] === "M" ? "MHz" : m[3] === "k" ? "kHz" : "Hz" });
    m = MASK.exec(msg);
    if (m) {
      const mask = BigInt(`0x${m[2]}`);
      masks.push({ line, clocksource: m[1] as string, mask, width: maskWidth(mask) });
    }
    m = WORKAROUND.exec(msg);
    if (m) workarounds.push({ line, scope: m[1] as "global" | "local", description: m[2] as string });
    if (ERRATA_MENTION.test(msg)) errataLines.push(line);
    if (TRAPPING.test(msg)) cntvctTrapping.push(line);
    m = SWITCH.exec(msg);
    if (m) clocksourceSwitches.push({ line, name: m[1] as string });
    if (!bootMidr) {
      m = BOOT_MIDR_ARM64.exec(msg) ?? CPU_LINE_AARCH64.exec(msg);
      if (m) {
        bootMidr = { line, value: Number(`0x${m[1]}`) };
        archHint ??= { line, arch: "arm64", why: "the boot-CPU line has the arm64 kernel's form" };
      } else {
        m = CPU_LINE_ARM32.exec(msg);
        if (m) {
          bootMidr = { line, value: Number(`0x${m[1]}`) };
          archHint ??= { line, arch: "arm", why: "only the 32-bit Arm kernel prints the CPU line with `(ARMvN), cr=`" };
        } else {
          m = CPU_LINE_OTHER.exec(msg);
          if (m) bootMidr = { line, value: Number(`0x${m[1]}`) };
        }
      }
    }
    if (!archHint && /\bCPU features: (?:detected|enabling)/.test(msg)) archHint = { line, arch: "arm64", why: "`CPU features:` lines come from the arm64 kernel's capability code" };
  }
  return { banners, exactRates, schedClocks, masks, workarounds, errataLines, cntvctTrapping, bootMidr, archHint, clocksourceSwitches, fromBoot };
}

/**
 * Whether a `sched_clock` line describes a counter at `rateHz`: the kernel
 * prints MHz for rates of 4 MHz and up and kHz for 4 kHz and up, rounded to
 * nearest in current kernels and truncated in older ones; either matches.
 */
export function schedClockMatchesRate(s: SchedClockLine, rateHz: number): boolean {
  const div = s.unit === "MHz" ? 1_000_000 : s.unit === "kHz" ? 1_000 : 1;
  return s.rate === Math.floor(rateHz / div) || s.rate === Math.round(rateHz / div);
}
