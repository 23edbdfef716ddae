/**
 * The known errata of the Arm architected counter, and how each is recognised:
 * a device-tree property on the timer node, an ACPI GTDT OEM identity, a CPU
 * part, or the kernel log's workaround lines.
 *
 * What they share: a plain read of the counter can return a wrong value. The
 * kernel hides this behind a re-reading workaround and, because user space
 * would otherwise read the raw register, it stops letting EL0 read CNTVCT
 * directly: the read traps and the kernel emulates it (and the vDSO falls back
 * to a system call). Either way a user-space reader pays a trap per read, or
 * gets unreliable values on a kernel without the workaround.
 */

/** Stable ids of the counter errata this package knows. */
export type CounterErratumId = "fsl-a008585" | "hisilicon-161010101" | "allwinner-unknown1" | "arm-858921" | "arm-1418040";

/** One counter erratum. */
export interface CounterErratum {
  readonly id: CounterErratumId;
  /** The name used in the `arm.errata` fact. */
  readonly name: string;
  /** The device-tree property on the timer node that declares it, if any. */
  readonly dtProperty: string | null;
  /** What goes wrong, and what the kernel does about it. */
  readonly effect: string;
  /** Whether it affects 64-bit user-space reads of CNTVCT_EL0 (1418040 only touches the 32-bit compat vDSO). */
  readonly affectsUserReads: boolean;
  /** Recognises the erratum in a kernel-log workaround description. */
  readonly logPattern: RegExp;
}

export const COUNTER_ERRATA: readonly CounterErratum[] = [
  {
    id: "fsl-a008585",
    name: "Freescale erratum A-008585",
    dtProperty: "fsl,erratum-a008585",
    effect: "counter reads may return a wrong value; the kernel re-reads until two consecutive reads agree and traps user-space CNTVCT reads to do the same",
    affectsUserReads: true,
    // The kernel's description string misspells the number as a005858.
    logPattern: /\ba?-?00(?:8585|5858)\b/i,
  },
  {
    id: "hisilicon-161010101",
    name: "HiSilicon erratum 161010101",
    dtProperty: "hisilicon,erratum-161010101",
    effect: "counter reads may return a value off by up to 32 ticks; the kernel re-reads until two reads are close and traps user-space CNTVCT reads",
    affectsUserReads: true,
    logPattern: /\b161010101\b/,
  },
  {
    id: "allwinner-unknown1",
    name: "Allwinner erratum UNKNOWN1",
    dtProperty: "allwinner,erratum-unknown1",
    effect: "counter reads may be wrong when the low 9 bits roll over; the kernel re-reads those and traps user-space CNTVCT reads",
    affectsUserReads: true,
    logPattern: /\bunknown1\b/i,
  },
  {
    id: "arm-858921",
    name: "ARM erratum 858921",
    dtProperty: null,
    effect: "Cortex-A73 (all revisions): a counter read can return a wrong value when bit 32 changes; the kernel reads twice and traps user-space CNTVCT reads",
    affectsUserReads: true,
    logPattern: /\b858921\b/,
  },
  {
    id: "arm-1418040",
    name: "ARM erratum 1418040",
    dtProperty: null,
    effect: "32-bit (compat) processes may read a wrong counter value; the kernel disables the compat vDSO; 64-bit reads are unaffected",
    affectsUserReads: false,
    logPattern: /\b1418040\b/,
  },
];

/** The erratum with that id. */
export function counterErratum(id: CounterErratumId): CounterErratum {
  return COUNTER_ERRATA.find((e) => e.id === id) as CounterErratum;
}

/** The erratum a device-tree property declares, if it is one of ours. */
export function erratumForDtProperty(property: string): CounterErratum | undefined {
  return COUNTER_ERRATA.find((e) => e.dtProperty === property);
}

/** The known erratum a kernel-log description names, if any. */
export function erratumForLogText(text: string): CounterErratum | undefined {
  return COUNTER_ERRATA.find((e) => e.logPattern.test(text));
}

/**
 * Counter errata implied by a CPU's identity. Linux applies the 858921
 * workaround to every Cortex-A73 (implementer 0x41, part 0xd09) revision.
 */
export function erratumForCpu(implementer: number, part: number): CounterErratum | undefined {
  if (implementer === 0x41 && part === 0xd09) return counterErratum("arm-858921");
  return undefined;
}

/**
 * The HiSilicon platforms whose GTDT identifies erratum 161010101: OEM id
 * `HISI  ` with table id `HIP05   `, `HIP06   ` or `HIP07   ` at OEM revision 0.
 */
export function erratumForGtdtOem(oemId: string, oemTableId: string, oemRevision: number): CounterErratum | undefined {
  if (oemId === "HISI  " && ["HIP05   ", "HIP06   ", "HIP07   "].includes(oemTableId) && oemRevision === 0) return counterErratum("hisilicon-161010101");
  return undefined;
}
