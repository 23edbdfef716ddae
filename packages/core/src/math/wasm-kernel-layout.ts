/**
 * Where things live in the memory of core's WebAssembly kernel module.
 *
 * The memory has a fixed size and never grows, so typed-array views made on
 * it once stay valid for the life of the process (growing a memory detaches
 * every view of its old buffer). Regions are scratch space: a kernel call is
 * synchronous and JavaScript is single-threaded, so a region is only ever
 * used between two `await`s by one caller, and nothing is kept in it across
 * an `await`. Untouched pages cost no resident memory.
 */

/** Values per kernel batch: every value region holds this many u64s. */
export const KERNEL_BATCH = 65536;

const KiB = 1024;

/** Byte offsets of the regions (see the module docs). */
export const REGION = {
  /** u64 values converted in place; also the chunk window of `runChunked`. */
  values: 0,
  /** u64: a copy of the input values while several epochs are tried. */
  saved: KERNEL_BATCH * 8,
  /** u64: one epoch's results while several epochs are tried. */
  scratch: KERNEL_BATCH * 16,
  /** i32 per value: the epoch chosen (≥ 0), -1 none, -2 "ask the exact path". */
  status: KERNEL_BATCH * 24,
  /** i32 per value: failures of one epoch's kernel. */
  scratchStatus: KERNEL_BATCH * 28,
  /** u8 per value: 1 when an earlier epoch also covers the value. */
  ambiguous: KERNEL_BATCH * 32,
  /** (unused: 256 bytes kept so that the offsets below stay put) */
  spare: KERNEL_BATCH * 33,
  /** u64 10^0 .. 10^19. */
  powersOf10: KERNEL_BATCH * 33 + 256,
  /** i32 result cells some kernels write besides their return value. */
  cells: KERNEL_BATCH * 33 + 512,
  /** The epoch table: per epoch u64 validFrom, u64 validUntil, u64 (1 = open-ended). */
  epochs: KERNEL_BATCH * 33 + 4 * KiB,
  /** Decimal input bytes (one extra byte for a line feed after a last line). */
  input: KERNEL_BATCH * 33 + 4 * KiB + 4096 * 24,
  /** Decimal output bytes: at most 21 per value. */
  output: KERNEL_BATCH * 33 + 4 * KiB + 4096 * 24 + 1024 * KiB + 64,
} as const;

/** Epochs the table holds; a mapping with more converts value by value. */
export const KERNEL_EPOCHS_MAX = 4096;
/** Bytes of decimal input a parse call sees at most. */
export const KERNEL_INPUT_BYTES = 1024 * KiB;
/** Offsets of the result cells. */
export const CELL = { parseStop: REGION.cells, epochMin: REGION.cells + 4, epochMax: REGION.cells + 8, ambiguous: REGION.cells + 12, outside: REGION.cells + 16 } as const;

/** 64 KiB pages the module's memory has. */
export const KERNEL_PAGES = Math.ceil((REGION.output + KERNEL_BATCH * 21 + 64) / 65536);

/** Writes the table the decimal kernels read (powers of ten) into the kernels' memory. */
export function writeKernelTables(buffer: ArrayBuffer): void {
  const pow = new BigUint64Array(buffer, REGION.powersOf10, 20);
  for (let i = 0; i < 20; i++) pow[i] = 10n ** BigInt(i);
}
