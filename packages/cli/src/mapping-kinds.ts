import { clockPairsCodec, mappingCodecRegistry, type MappingCodec, type MappingCodecRegistry } from "@clocksource/core/mapping";
import { kvmTscCodec } from "@clocksource/x86/mapping";
import { paravirtCodec } from "@clocksource/paravirt/mapping";
import { armCntvoffCodec } from "@clocksource/arm/mapping";

/**
 * The mapping kinds `clocksource convert` understands: one codec per line.
 * A backend package that defines a new kind exports its `MappingCodec` and
 * adds it here and to mapping-kind-table.ts, which `convert` loads lazily
 * (see the header of core's mapping-file.ts).
 */
const CODECS: ReadonlyArray<MappingCodec<any>> = [
  kvmTscCodec,
  paravirtCodec,
  armCntvoffCodec,
  clockPairsCodec,
];

/** The registry of every bundled mapping kind. */
export function mappingKinds(): MappingCodecRegistry {
  return mappingCodecRegistry(CODECS);
}
