import { ClocksourceError } from "../errors.js";

/** 2^64, the modulus of unsigned 64-bit arithmetic. */
export const U64_MODULUS = 1n << 64n;
/** The largest u64, 2^64 − 1. */
export const U64_MAX = U64_MODULUS - 1n;

/** Reduces any integer modulo 2^64 (wrapping like the hardware does). */
export function wrapU64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

/** True when `v` is an integer in [0, 2^64 − 1]. */
export function isU64(v: bigint): boolean {
  return v >= 0n && v <= U64_MAX;
}

/** Throws a typed error unless `v` is a u64; returns it otherwise. */
export function assertU64(v: bigint, what = "value"): bigint {
  if (typeof v !== "bigint" || !isU64(v)) {
    throw new ClocksourceError("INVALID_U64", `${what} is not an unsigned 64-bit integer: ${String(v)}`);
  }
  return v;
}

const DECIMAL = /^[0-9]+$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;

/**
 * Parses a u64 written in decimal or `0x` hexadecimal, exactly (no float
 * rounding). Leading and trailing ASCII whitespace is ignored; anything else
 * (signs, underscores, exponents, empty strings, values ≥ 2^64) is rejected
 * with a typed `INVALID_U64` error.
 */
export function parseU64(text: string, what = "value"): bigint {
  const s = text.trim();
  if (s.length === 0 || s.length > 66 || !(DECIMAL.test(s) || HEX.test(s))) {
    throw new ClocksourceError("INVALID_U64", `${what} is not an unsigned 64-bit integer: ${JSON.stringify(truncate(text))}`);
  }
  const v = BigInt(s);
  if (v > U64_MAX) {
    throw new ClocksourceError("INVALID_U64", `${what} exceeds 2^64-1: ${truncate(s)}`);
  }
  return v;
}

/**
 * Parses a signed 64-bit integer in decimal (as the kernel prints `%lld`),
 * returning it as a bigint in [−2^63, 2^63 − 1].
 */
export function parseI64(text: string, what = "value"): bigint {
  const s = text.trim();
  if (!/^[-+]?[0-9]+$/.test(s) || s.length > 21) {
    throw new ClocksourceError("INVALID_U64", `${what} is not a signed 64-bit integer: ${JSON.stringify(truncate(text))}`);
  }
  const v = BigInt(s);
  if (v < -(1n << 63n) || v > (1n << 63n) - 1n) {
    throw new ClocksourceError("INVALID_U64", `${what} is out of the signed 64-bit range: ${truncate(s)}`);
  }
  return v;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
