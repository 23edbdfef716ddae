import { mappingCodecRegistry, type MappingCodec, type MappingCodecRegistry } from "@clocksource/core";
import { kvmTscCodec } from "@clocksource/x86";
import { paravirtCodec } from "@clocksource/paravirt";
import { armCntvoffCodec } from "@clocksource/arm";

/**
 * The mapping kinds `clocksource convert` understands: one codec per line.
 * A backend package that defines a new kind exports its `MappingCodec` and
 * adds it here (see the header of core's mapping-file.ts).
 */
const CODECS: ReadonlyArray<MappingCodec<any>> = [
  kvmTscCodec,
  paravirtCodec,
  armCntvoffCodec,
];

/** The registry of every bundled mapping kind. */
export function mappingKinds(): MappingCodecRegistry {
  return mappingCodecRegistry(CODECS);
}
