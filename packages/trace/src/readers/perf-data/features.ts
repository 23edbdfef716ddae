/**
 * Header feature sections (file mode: the table after the data section;
 * pipe mode: HEADER_FEATURE records). Each is decoded into {@link PerfMeta};
 * a section that does not parse is a counted warning naming its offset, never
 * the end of the file: the events do not depend on most of them.
 */
import { parseAttr, type PerfAttr } from "./attr.js";
import { Feat } from "./constants.js";
import { at } from "./errors.js";
import type { WarningLog } from "./warnings.js";

/** One entry of HEADER_EVENT_DESC: an attr, its name and the ids of its streams. */
export interface EventDesc {
  readonly attr: PerfAttr | null;
  readonly name: string;
  readonly ids: readonly bigint[];
}

/** What the feature sections told. */
export interface PerfMeta {
  tracingData: { readonly bytes: Uint8Array; readonly offset: number } | null;
  eventDesc: EventDesc[] | null;
  nrCpusAvailable: number | null;
  nrCpusOnline: number | null;
  /** HEADER_CLOCKID: the resolution of the recording clock, in ns (not the clock id, despite its name). */
  clockResolutionNs: bigint | null;
  clockData: { readonly clockId: number; readonly wallClockNs: bigint; readonly clockIdTimeNs: bigint } | null;
  /** HEADER_COMPRESSED: records are zstd-compressed (`perf record -z`). */
  compression: { readonly type: number; readonly level: number } | null;
  sampleTime: { readonly first: bigint; readonly last: bigint } | null;
  /** Plain facts: hostname, OS release, perf version, arch, CPU description, CPU id, perf's command line, memory. */
  readonly properties: Record<string, string>;
  /** Feature bits present, known or not. */
  readonly features: number[];
}

export function emptyMeta(): PerfMeta {
  return {
    tracingData: null,
    eventDesc: null,
    nrCpusAvailable: null,
    nrCpusOnline: null,
    clockResolutionNs: null,
    clockData: null,
    compression: null,
    sampleTime: null,
    properties: {},
    features: [],
  };
}

const MAX_LIST = 1 << 16;
const MAX_IDS = 1 << 20;
const MAX_ATTR_SIZE = 4096;

class Short extends Error {}

/** A bounds-checked reader over one feature section. */
class SectionReader {
  private readonly view: DataView;
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    private readonly le: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) throw new Short(`needs ${n} bytes at section byte ${this.pos}, has ${this.bytes.length - this.pos}`);
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, this.le);
    this.pos += 8;
    return v;
  }
  /** `perf_header_string`: u32 length (padding included), then NUL-terminated text. */
  string(): string {
    const len = this.u32();
    this.need(len);
    const raw = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    const nul = raw.indexOf(0);
    return Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString("utf8");
  }
  stringList(): string[] {
    const nr = this.u32();
    if (nr > MAX_LIST) throw new Short(`a list of ${nr} strings`);
    const out: string[] = [];
    for (let i = 0; i < nr; i++) out.push(this.string());
    return out;
  }
  attr(size: number): PerfAttr | null {
    this.need(size);
    const a = parseAttr(this.view, this.pos, size, this.le);
    this.pos += size;
    return a;
  }
}

const STRING_FEATURES: Readonly<Record<number, string>> = {
  [Feat.HOSTNAME]: "hostname",
  [Feat.OSRELEASE]: "osRelease",
  [Feat.VERSION]: "perfVersion",
  [Feat.ARCH]: "arch",
  [Feat.CPUDESC]: "cpuDesc",
  [Feat.CPUID]: "cpuId",
};

/**
 * Decodes feature `feat` from `bytes` (found at file offset `offset`) into `meta`.
 * Unknown or malformed sections become warnings.
 */
export function readFeature(feat: number, bytes: Uint8Array, offset: number, le: boolean, meta: PerfMeta, warn: WarningLog): void {
  meta.features.push(feat);
  const r = new SectionReader(bytes, le);
  try {
    const stringName = STRING_FEATURES[feat];
    if (stringName !== undefined) {
      meta.properties[stringName] = r.string();
      return;
    }
    switch (feat) {
      case Feat.TRACING_DATA:
        meta.tracingData = { bytes, offset };
        return;
      case Feat.NRCPUS:
        // perf writes the CPUs present first, then those online (its documentation has them swapped).
        meta.nrCpusAvailable = r.u32();
        meta.nrCpusOnline = r.u32();
        return;
      case Feat.TOTAL_MEM:
        meta.properties.totalMemKiB = r.u64().toString();
        return;
      case Feat.CMDLINE:
        meta.properties.cmdline = r.stringList().join(" ");
        return;
      case Feat.EVENT_DESC:
        meta.eventDesc = readEventDesc(r);
        return;
      case Feat.CLOCKID:
        meta.clockResolutionNs = r.u64();
        return;
      case Feat.CLOCK_DATA: {
        const version = r.u32();
        if (version !== 1) {
          warn.add("feature", `${at(offset)}: HEADER_CLOCK_DATA version ${version} (only 1 is known); ignored`);
          return;
        }
        const clockId = r.u32();
        const wallClockNs = r.u64();
        const clockIdTimeNs = r.u64();
        meta.clockData = { clockId, wallClockNs, clockIdTimeNs };
        return;
      }
      case Feat.COMPRESSED: {
        r.u32(); // version
        const type = r.u32();
        const level = r.u32();
        meta.compression = { type, level };
        return;
      }
      case Feat.SAMPLE_TIME:
        meta.sampleTime = { first: r.u64(), last: r.u64() };
        return;
      default:
        if (feat >= Feat.KNOWN_MAX) warn.add("unknown-feature", `${at(offset)}: unknown header feature bit ${feat} (${bytes.length} bytes) skipped`);
    }
  } catch (e) {
    if (!(e instanceof Short)) throw e;
    warn.add("feature", `${at(offset)}: header feature ${feat} is malformed (${e.message}); ignored`);
  }
}

function readEventDesc(r: SectionReader): EventDesc[] {
  const nr = r.u32();
  const attrSize = r.u32();
  if (nr > MAX_LIST) throw new Short(`${nr} event descriptions`);
  if (attrSize < 64 || attrSize > MAX_ATTR_SIZE) throw new Short(`attr size ${attrSize}`);
  const out: EventDesc[] = [];
  for (let i = 0; i < nr; i++) {
    const attr = r.attr(attrSize);
    const nrIds = r.u32();
    if (nrIds > MAX_IDS) throw new Short(`${nrIds} ids`);
    const name = r.string();
    r.need(nrIds * 8);
    const ids: bigint[] = [];
    for (let k = 0; k < nrIds; k++) ids.push(r.u64());
    out.push({ attr, name, ids });
  }
  return out;
}
