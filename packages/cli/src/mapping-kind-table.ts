import { mappingCodecRegistry, type MappingCodec, type MappingCodecRegistry } from "@clocksource/core/mapping";

/**
 * Every bundled mapping kind and where its codec lives: a command loads only
 * the codecs of the files it reads (from each package's lightweight
 * `./mapping` entry, which pulls in neither probes nor native code).
 * Keep in step with mapping-kinds.ts (a test checks both list the same kinds).
 */
export const MAPPING_KIND_TABLE: Readonly<Record<string, { readonly load: () => Promise<MappingCodec<any>> }>> = {
  "kvm-x86-tsc": { load: () => import("@clocksource/x86/mapping").then((m) => m.kvmTscCodec) },
  "paravirt-estimate": { load: () => import("@clocksource/paravirt/mapping").then((m) => m.paravirtCodec) },
  "arm-cntvoff": { load: () => import("@clocksource/arm/mapping").then((m) => m.armCntvoffCodec) },
  "clock-pairs": { load: () => import("@clocksource/core/mapping").then((m) => m.clockPairsCodec) },
};

function load(kind: string): Promise<MappingCodec<any>> {
  return (MAPPING_KIND_TABLE[kind] as (typeof MAPPING_KIND_TABLE)[string]).load();
}

/**
 * A registry of the codecs for `kinds` (every bundled kind when one of them is
 * unknown, so that the error lists what is known).
 */
export async function loadMappingKinds(kinds: Iterable<string>): Promise<MappingCodecRegistry> {
  const wanted = [...new Set(kinds)];
  const known = Object.keys(MAPPING_KIND_TABLE);
  const names = wanted.every((k) => Object.hasOwn(MAPPING_KIND_TABLE, k)) ? wanted : known;
  return mappingCodecRegistry(await Promise.all(names.filter((k) => Object.hasOwn(MAPPING_KIND_TABLE, k)).map(load)));
}
