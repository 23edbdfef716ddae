/**
 * Building `arm-cntvoff` epochs from what a VMM reports.
 *
 * QEMU rewrites the VM's counter offset whenever the guest is paused and
 * resumed and on migration (it saves the guest's counter, `KVM_REG_ARM_TIMER_CNT`,
 * and writes it back, which makes KVM re-derive the offset from the current
 * host counter). Each distinct offset is an epoch. Because the guest counter
 * continues from where it stopped, the epochs follow each other in the guest
 * (source) domain; an epoch is valid from the guest counter value at which its
 * offset took effect up to the next epoch's.
 *
 * Input: one JSON object per line,
 *
 * ```json
 * { "observedAt": "2025-01-01T00:00:00Z", "voffset": "123", "poffset": "0", "validFrom": "456" }
 * ```
 *
 * - `observedAt` (required): ISO 8601 UTC, when the offset was seen.
 * - `voffset` (required), `poffset` (optional): decimal u64 strings.
 * - `validFrom` (optional): the guest counter at which this offset took effect
 *   (the TIMER_CNT value QEMU wrote back), or `hostCounter` (optional): the
 *   host counter at that moment, from which `validFrom = (hostCounter − offset) mod 2^w`.
 * - `lastObservedAt` (optional): the last time the offset was seen unchanged.
 *
 * With several epochs the last one ends 2^(w−1) ticks after it starts (see
 * {@link lastEpochEnd}). Without a `validFrom` (or `hostCounter`) after the first epoch the epochs
 * overlap, and a converter picks the last one for every value unless told
 * which (`--epoch K`); {@link EpochsFromLines.overlapping} says so.
 */
import { checkKeys, ClocksourceError, jsonObject, jsonTimestamp, jsonU64, mappingError, type EpochInput, type JsonValue } from "@clocksource/core";
import { hostToGuest, viewOffset, type CntvoffParams, type CounterView } from "./cntvoff-mapping.js";

/**
 * The end of the last of several epochs: half the counter's range after its
 * start. Host → guest conversion is modular, so a host value from an earlier
 * epoch, pushed through the last epoch's offset, wraps to a guest value just
 * below 2^w; an open-ended last epoch would claim it. Bounding the epoch to
 * 2^(w−1) ticks (at the kernel's width that is at least 20 years of guest
 * time) leaves those wrapped values outside, so they find their own epoch.
 */
export function lastEpochEnd(validFrom: bigint, widthBits: number): bigint {
  const end = validFrom + (1n << BigInt(widthBits - 1));
  const max = (1n << 64n) - 1n;
  return end > max ? max : end;
}

/** The epochs read from JSON lines. */
export interface EpochsFromLines {
  readonly epochs: EpochInput<CntvoffParams>[];
  /** True when some epoch after the first has no `validFrom`: conversions then need `--epoch`. */
  readonly overlapping: boolean;
}

/**
 * Parses JSON lines of `{ observedAt, voffset, … }` into epochs.
 * @param text the lines (blank lines and lines starting with `#` are skipped)
 * @param view which guest counter the mapping converts
 * @param widthBits the counter width
 * @throws ClocksourceError `INVALID_MAPPING` naming the line and field (also for a
 *   `validFrom` wider than the counter)
 */
export function epochsFromJsonLines(text: string, view: CounterView, widthBits: number): EpochsFromLines {
  const rows: { params: CntvoffParams; observedAt: string; lastObservedAt: string | null; validFrom: bigint | null; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const path = `line ${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      throw mappingError(path, `not JSON: ${(e as Error).message}`);
    }
    const o = jsonObject(json, path);
    checkKeys(o, path, ["observedAt", "voffset"], ["poffset", "validFrom", "hostCounter", "lastObservedAt"]);
    const observedAt = jsonTimestamp(o.observedAt, `${path}.observedAt`);
    const lastObservedAt = o.lastObservedAt === undefined || o.lastObservedAt === null ? null : jsonTimestamp(o.lastObservedAt, `${path}.lastObservedAt`);
    const params: CntvoffParams = {
      view,
      voffset: jsonU64(o.voffset, `${path}.voffset`),
      poffset: o.poffset === undefined ? null : jsonU64(o.poffset, `${path}.poffset`),
      widthBits,
    };
    if (view === "physical" && params.poffset === null) throw mappingError(`${path}.poffset`, "missing: the physical view is offset by CNTPOFF");
    if (o.validFrom !== undefined && o.hostCounter !== undefined) throw mappingError(path, "give validFrom (guest counter) or hostCounter (host counter), not both");
    let validFrom: bigint | null = null;
    if (o.validFrom !== undefined) {
      validFrom = jsonU64(o.validFrom as JsonValue, `${path}.validFrom`);
      // A guest counter value the counter cannot hold is a wrong input, not one to wrap silently.
      if (validFrom >> BigInt(widthBits) !== 0n) throw mappingError(`${path}.validFrom`, `${validFrom} does not fit the ${widthBits}-bit counter (at most ${(1n << BigInt(widthBits)) - 1n})`);
    }
    if (o.hostCounter !== undefined) validFrom = hostToGuest(jsonU64(o.hostCounter as JsonValue, `${path}.hostCounter`), viewOffset(params), widthBits);
    rows.push({ params, observedAt, lastObservedAt, validFrom, line: i + 1 });
  });
  if (rows.length === 0) throw new ClocksourceError("INVALID_MAPPING", "invalid epochs: no JSON lines");
  for (let k = 1; k < rows.length; k++) {
    const prev = rows[k - 1] as (typeof rows)[number];
    const cur = rows[k] as (typeof rows)[number];
    if (Date.parse(cur.observedAt) < Date.parse(prev.observedAt)) throw mappingError(`line ${cur.line}.observedAt`, `earlier than line ${prev.line}'s: list epochs in the order they happened`);
    if (cur.validFrom !== null && prev.validFrom !== null && cur.validFrom <= prev.validFrom) {
      throw mappingError(`line ${cur.line}.validFrom`, `${cur.validFrom} is not after line ${prev.line}'s ${prev.validFrom}: the guest counter moves forward across epochs`);
    }
  }
  const overlapping = rows.slice(1).some((r) => r.validFrom === null);
  const epochs = rows.map((r, k): EpochInput<CntvoffParams> => {
    const next = rows[k + 1];
    // Only a known next start closes an epoch; an epoch left open overlaps the next one.
    let validUntil = next?.validFrom ?? null;
    if (!next && rows.length > 1 && r.validFrom !== null) validUntil = lastEpochEnd(r.validFrom, widthBits);
    return { observedAt: r.observedAt, lastObservedAt: r.lastObservedAt, validFrom: r.validFrom, validUntil: validUntil === 0n ? null : validUntil, params: r.params };
  });
  return { epochs, overlapping };
}
