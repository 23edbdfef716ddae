/**
 * Counter reads that tolerate the known CNTVCT errata, for a reader that
 * goes straight to the register. Where the kernel traps user-space reads
 * (its workaround), each read is already corrected and these loops only cost
 * an extra read or two; where it does not (a kernel without the workaround),
 * they are what keeps the values right. Each follows the erratum's published
 * rule, as the kernel's arch-timer driver applies it.
 */
import type { CounterErratumId } from "./errata.js";

type Read = () => bigint;

/** Freescale A-008585: a read can be wrong; re-read until two consecutive reads agree (bounded). */
export function readFslA008585(read: Read, maxTries = 200): bigint {
  let prev = read();
  for (let i = 0; i < maxTries; i++) {
    const next = read();
    if (next === prev) return next;
    prev = next;
  }
  return prev;
}

/** HiSilicon 161010101: a read can be off by up to 32 ticks; accept a pair whose difference is below 32. */
export function readHisilicon161010101(read: Read, maxTries = 50): bigint {
  let prev = read();
  for (let i = 0; i < maxTries; i++) {
    const next = read();
    if (BigInt.asUintN(64, next - prev) >> 5n === 0n) return next;
    prev = next;
  }
  return prev;
}

/** Allwinner UNKNOWN1: reads near a roll-over of the low 9 bits can be wrong; re-read while they are all 0 or all 1. */
export function readAllwinnerUnknown1(read: Read, maxTries = 150): bigint {
  let v = read();
  for (let i = 0; i < maxTries; i++) {
    if (BigInt.asUintN(9, v + 1n) > 1n) return v;
    v = read();
  }
  return v;
}

/** ARM 858921 (Cortex-A73): when bit 32 differs between two reads, the first is the right one. */
export function readArm858921(read: Read): bigint {
  const first = read();
  const second = read();
  return ((first ^ second) >> 32n) & 1n ? first : second;
}

/** Wraps a raw read with the workarounds for `errata` (unknown ids are ignored). */
export function erratumSafeRead(read: Read, errata: readonly CounterErratumId[]): Read {
  let r = read;
  if (errata.includes("fsl-a008585")) {
    const inner = r;
    r = () => readFslA008585(inner);
  }
  if (errata.includes("hisilicon-161010101")) {
    const inner = r;
    r = () => readHisilicon161010101(inner);
  }
  if (errata.includes("allwinner-unknown1")) {
    const inner = r;
    r = () => readAllwinnerUnknown1(inner);
  }
  if (errata.includes("arm-858921")) {
    const inner = r;
    r = () => readArm858921(inner);
  }
  return r;
}
