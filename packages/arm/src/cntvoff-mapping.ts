/**
 * The exact guest ↔ host mapping of the Arm generic counter under a hypervisor.
 *
 * The architecture defines the virtual count as the physical count minus a
 * 64-bit offset the hypervisor programs (CNTVOFF_EL2):
 *
 *     CNTVCT = (CNTPCT − CNTVOFF) mod 2^64
 *
 * KVM keeps one such offset per VM (`voffset`; QEMU rewrites it on every
 * pause/resume and migration, so a mapping is a list of epochs). With FEAT_ECV
 * the guest's *physical* view is offset too (CNTPOFF_EL2, KVM's `poffset`):
 *
 *     guest CNTPCT = (host CNTPCT − CNTPOFF) mod 2^64
 *
 * A counter narrower than 64 bits (56 at least) wraps at 2^w, and the offset
 * register may be implemented at the counter's width, so the mapping is taken
 * modulo 2^w: forward `h = (g + offset) mod 2^w`, inverse `g = (h − offset) mod 2^w`.
 * For w = 64 that is exactly the register arithmetic. For w < 64 a guest value
 * whose high bits were set by the 64-bit subtraction wrapping (a destination
 * host counter below the guest's, after migration) maps like its low w bits,
 * which is the value the guest kernel's clocksource sees (it masks to w bits).
 * Both directions are bijections on [0, 2^w): `inverse(forward(g)) = g` and
 * `forward(inverse(h)) = h` for every w-bit g and h.
 */
import {
  checkKeys,
  jsonInt,
  jsonObject,
  jsonU64,
  mappingError,
  type BatchMapping,
  type JsonObject,
  type JsonValue,
  type MappingCodec,
  type MappingFunction,
} from "@clocksource/core/mapping";
import { ClocksourceError, assertU64 } from "@clocksource/core/mapping";
import { MAX_COUNTER_WIDTH, MIN_COUNTER_WIDTH } from "./counter-width.js";

/** The mapping kind in a mapping file. */
export const ARM_CNTVOFF_KIND = "arm-cntvoff";

/** Which guest counter a mapping converts: the virtual one (CNTVOFF) or, with FEAT_ECV, the physical one (CNTPOFF). */
export type CounterView = "virtual" | "physical";

/** One epoch's parameters. */
export interface CntvoffParams {
  readonly view: CounterView;
  /** CNTVOFF as the VMM reports it (KVM's voffset), a u64. */
  readonly voffset: bigint;
  /** CNTPOFF (FEAT_ECV), a u64, or null when the guest's physical view is not offset or not known. */
  readonly poffset: bigint | null;
  /** The counter width w (56…64): values wrap at 2^w. */
  readonly widthBits: number;
}

function checkWidth(widthBits: number): bigint {
  if (!Number.isInteger(widthBits) || widthBits < MIN_COUNTER_WIDTH || widthBits > MAX_COUNTER_WIDTH) {
    throw new ClocksourceError("INVALID_ARGUMENT", `counter width must be an integer in ${MIN_COUNTER_WIDTH}..${MAX_COUNTER_WIDTH}, got ${widthBits}`);
  }
  return BigInt(widthBits);
}

/** Guest counter → host physical counter: `(guest + offset) mod 2^w`. */
export function guestToHost(guest: bigint, offset: bigint, widthBits: number): bigint {
  const w = checkWidth(widthBits);
  assertU64(guest, "guest counter");
  assertU64(offset, "offset");
  return BigInt.asUintN(Number(w), guest + offset);
}

/** Host physical counter → guest counter: `(host − offset) mod 2^w`. */
export function hostToGuest(host: bigint, offset: bigint, widthBits: number): bigint {
  const w = checkWidth(widthBits);
  assertU64(host, "host counter");
  assertU64(offset, "offset");
  return BigInt.asUintN(Number(w), host - offset);
}

/** The offset a view uses. @throws ClocksourceError `INVALID_ARGUMENT` for a physical view without poffset */
export function viewOffset(p: CntvoffParams): bigint {
  if (p.view === "virtual") return p.voffset;
  if (p.poffset === null) throw new ClocksourceError("INVALID_ARGUMENT", "the physical-counter view needs poffset (CNTPOFF, FEAT_ECV)");
  return p.poffset;
}

/** The domain names a view maps between (`from` → `to`). */
export function viewDomains(view: CounterView): { from: string; to: string } {
  return view === "virtual" ? { from: "guest.cntvct", to: "host.cntpct" } : { from: "guest.cntpct", to: "host.cntpct" };
}

/** Builds the exact conversion for one epoch. */
export function cntvoffMapping(p: CntvoffParams): MappingFunction {
  const offset = assertU64(viewOffset(p), "offset");
  // Validated once here; per value only the input is checked. `& mask` is `mod 2^w` for the non-negative sums.
  const mask = (1n << checkWidth(p.widthBits)) - 1n;
  const negOffset = (1n << 64n) - offset; // h − offset ≡ h + (2^64 − offset) (mod 2^w), keeping the sum non-negative
  return {
    forward: (g: bigint) => (assertU64(g, "guest counter") + offset) & mask,
    inverse: (h: bigint) => (assertU64(h, "host counter") + negOffset) & mask,
  };
}

/**
 * The `arm-cntvoff` mapping kind. Parameters, all 64-bit values as decimal strings:
 *
 * ```json
 * { "view": "virtual", "voffset": "123456789", "poffset": "0", "widthBits": 56 }
 * ```
 *
 * `view` is `virtual` (guest.cntvct → host.cntpct with voffset) or `physical`
 * (guest.cntpct → host.cntpct with poffset, which it then requires);
 * `poffset` may be omitted for the virtual view.
 */
export const armCntvoffCodec: MappingCodec<CntvoffParams> = {
  kind: ARM_CNTVOFF_KIND,
  description: "Arm generic counter under KVM: host = (guest + CNTVOFF) mod 2^w (with FEAT_ECV, CNTPOFF for the physical view)",
  exact: true,
  domains: [viewDomains("virtual"), viewDomains("physical")],
  parseParams(json: JsonValue, path: string): CntvoffParams {
    const o = jsonObject(json, path);
    checkKeys(o, path, ["view", "voffset", "widthBits"], ["poffset"]);
    if (o.view !== "virtual" && o.view !== "physical") throw mappingError(`${path}.view`, `expected "virtual" or "physical", got ${JSON.stringify(o.view)}`);
    const voffset = jsonU64(o.voffset, `${path}.voffset`);
    const poffset = o.poffset === undefined ? null : jsonU64(o.poffset, `${path}.poffset`);
    const widthBits = jsonInt(o.widthBits, `${path}.widthBits`, MIN_COUNTER_WIDTH, MAX_COUNTER_WIDTH);
    if (o.view === "physical" && poffset === null) throw mappingError(`${path}.poffset`, "missing: the physical view is offset by CNTPOFF");
    return { view: o.view, voffset, poffset, widthBits };
  },
  serializeParams(p: CntvoffParams): JsonObject {
    const out: Record<string, JsonValue> = { view: p.view, voffset: p.voffset.toString() };
    if (p.poffset !== null) out.poffset = p.poffset.toString();
    out.widthBits = p.widthBits;
    return out;
  },
  create(p: CntvoffParams): MappingFunction {
    return cntvoffMapping(p);
  },
  createBatch(p: CntvoffParams): BatchMapping {
    const offset = assertU64(viewOffset(p), "offset");
    checkWidth(p.widthBits);
    // (g + offset) mod 2^w, and (h − offset) mod 2^w as h + (2^64 − offset): the same sums as cntvoffMapping.
    return {
      forward: { kind: "addMask", add: offset, bits: p.widthBits },
      inverse: { kind: "addMask", add: BigInt.asUintN(64, -offset), bits: p.widthBits },
    };
  },
};
