/**
 * Mapping files: the versioned JSON envelope shared by every mapping kind.
 *
 * A mapping file says how to turn a timestamp of one clock domain (`from`,
 * e.g. `guest.tsc`) into one of another (`to`, e.g. `host.tsc`), exactly or
 * with an error bound, piecewise over *epochs* (the parameters change on
 * pause/resume, migration, reboot). The envelope is the same for every kind;
 * only each epoch's `params` differ, and a {@link MappingCodec} registered for
 * the kind validates them and builds the conversion functions.
 *
 * ```jsonc
 * {
 *   "schema": "clocksource.mapping/v1",
 *   "kind": "kvm-x86-tsc",            // selects the codec
 *   "from": "guest.tsc", "to": "host.tsc",
 *   "createdAt": "2025-01-01T00:00:00.000Z",
 *   "producer": "clocksource kvm-mapping 0.1.0",
 *   "exact": true,                    // hardware mapping: every epoch's errorBound is "0"
 *   "errorBound": "0",                // largest epoch errorBound, in `to`-domain ticks (decimal u64)
 *   "origin": { ... },                // optional free-form object: where the parameters came from
 *   "epochs": [{
 *     "observedAt": "...",            // ISO 8601: first sighting of these parameters
 *     "lastObservedAt": "...",        // ISO 8601 or null: last sighting unchanged
 *     "validFrom": null,              // source-domain u64 (decimal string), inclusive; null = from 0
 *     "validUntil": null,             // source-domain u64, exclusive; null = open-ended
 *     "boundary": null,               // or { notBefore, notAfter, sourceFrom, sourceUntil }: the switch window
 *     "errorBound": "0",              // decimal u64, `to`-domain ticks
 *     "params": { ... }               // kind-specific, same for every vCPU ...
 *     // or "vcpus": { "0": { ... }, "1": { ... } }   ... per vCPU (keys: decimal vCPU index)
 *   }]
 * }
 * ```
 *
 * Rules every kind follows:
 * - All 64-bit integers are JSON strings in decimal (signed ones may start with `-`), never numbers.
 * - Epoch validity is in the SOURCE (`from`) domain so a converter picks the epoch from the
 *   timestamp itself: forward conversion of `v` uses the LAST epoch (file order) whose
 *   `[validFrom, validUntil)` contains `v`; reverse conversion of `w` uses the last epoch whose
 *   inverse of `w` lies in its range. A value also covered by an earlier epoch lies in a switch
 *   window (or the source clock went backwards); {@link ResolvedMapping} reports it as
 *   `ambiguous` so callers can count it. `--epoch K` (index) overrides the choice. An epoch whose
 *   function throws `OUT_OF_RANGE` for a value (outside that kind's domain) does not cover it.
 * - `boundary` records the uncertainty of an epoch switch observed by polling: the new parameters
 *   took effect between `notBefore` (last sighting of the old) and `notAfter` (first sighting of
 *   the new); `[sourceFrom, sourceUntil)` is the source-domain image of that window.
 * - Per-vCPU parameters go in `vcpus`; a converter needs a vCPU index only when they differ.
 *
 * Adding a kind: implement {@link MappingCodec} (strict `parseParams` that throws
 * {@link mappingError} naming the JSON path, `serializeParams`, `create`) and add one line to the
 * CLI's kind table (`packages/cli/src/mapping-kinds.ts`). Use {@link jsonU64}, {@link jsonI64},
 * {@link jsonObject}, {@link checkKeys} and friends so errors read the same everywhere.
 *
 * Files are written by {@link writeMappingFile} under the rules of {@link writeUserFile}: a regular
 * file is replaced atomically (temporary file in the same directory, flushed, renamed), so a reader
 * never sees half a file; `-` is standard output; a device, FIFO or directory is never replaced.
 */
import { ClocksourceError, isClocksourceError } from "../errors.js";
import { writeUserFile, writeUserFileSync, type WriteUserFileOptions } from "../io/write-user-file.js";
import { readUserFile, readUserFileAsync } from "../io/read-user-file.js";
import { parseStrictJson, StrictJsonError } from "./strict-json.js";
import { U64_MAX, assertU64 } from "../math/u64.js";
import type { BatchMapping } from "../math/batch-ops.js";

/** The schema id of a mapping file; bumped on any incompatible change. */
export const MAPPING_SCHEMA = "clocksource.mapping/v1";

/** A JSON value as found in a parsed file. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { readonly [k: string]: JsonValue };

/** The mapping between two domains in one direction, exact integer arithmetic on u64 bigints. */
export interface MappingFunction {
  /** `from` domain → `to` domain. */
  forward(value: bigint): bigint;
  /** `to` domain → `from` domain (the kind documents which preimage when several exist). */
  inverse(value: bigint): bigint;
}

/** What a codec's `create` learns about where its parameters came from. */
export interface MappingContext {
  /** The vCPU whose parameters these are, or null when the epoch has one set for all. */
  readonly vcpu: number | null;
  /** The epoch index in the file. */
  readonly epoch: number;
}

/**
 * One mapping kind: validates its epoch parameters and builds the conversion.
 * `P` is the kind's parsed parameter type.
 */
export interface MappingCodec<P = unknown> {
  /** The `kind` string in the file, kebab-case (`kvm-x86-tsc`, `arm-cntvoff`, …). */
  readonly kind: string;
  /** One line for people. */
  readonly description: string;
  /** True for hardware mappings (error bound 0). */
  readonly exact: boolean;
  /**
   * The `from` → `to` domain pairs this kind converts between; a file naming
   * any other pair is refused. Omitted: any pair (for kinds that are not tied to domains).
   */
  readonly domains?: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  /**
   * Validates one epoch's (or one vCPU's) parameters strictly.
   * @param json the `params` (or `vcpus.N`) value
   * @param path its JSON path for messages, e.g. `$.epochs[0].vcpus.1`
   * @throws ClocksourceError `INVALID_MAPPING` naming the path of the bad field
   */
  parseParams(json: JsonValue, path: string): P;
  /** The JSON form of parameters (u64s as decimal strings); `parseParams(serializeParams(p))` equals `p`. */
  serializeParams(params: P): JsonObject;
  /** Builds the exact conversion for these parameters. */
  create(params: P, context: MappingContext): MappingFunction;
  /**
   * Optional batch hook: the same conversion as batch operations that core
   * runs without a BigInt per value ({@link batchConverter}, `convert`).
   * Must be bit-identical to `create`'s functions, failing exactly where they
   * throw `OUT_OF_RANGE`. Kinds without it convert value by value.
   */
  createBatch?(params: P, context: MappingContext): BatchMapping;
}

/** Codecs by kind. */
export type MappingCodecRegistry = ReadonlyMap<string, MappingCodec<any>>;

/** Builds a registry, refusing two codecs for one kind. */
export function mappingCodecRegistry(codecs: Iterable<MappingCodec<any>>): MappingCodecRegistry {
  const m = new Map<string, MappingCodec<any>>();
  for (const c of codecs) {
    if (m.has(c.kind)) throw new ClocksourceError("INVALID_ARGUMENT", `two mapping codecs for kind ${JSON.stringify(c.kind)}`);
    m.set(c.kind, c);
  }
  return m;
}

/** The window in which an epoch switch happened (see the module docs). */
export interface EpochBoundary {
  /** ISO 8601: the last sighting of the previous parameters. */
  readonly notBefore: string;
  /** ISO 8601: the first sighting of these parameters. */
  readonly notAfter: string;
  /** Source-domain image of the window, inclusive … */
  readonly sourceFrom: bigint;
  /** … exclusive. */
  readonly sourceUntil: bigint;
}

/** One epoch: parameters valid over a range of source-domain timestamps. Params stay raw JSON until a codec reads them. */
export interface MappingEpoch {
  readonly observedAt: string;
  readonly lastObservedAt: string | null;
  /** Inclusive lower bound (source domain), null = 0. */
  readonly validFrom: bigint | null;
  /** Exclusive upper bound (source domain), null = open-ended. */
  readonly validUntil: bigint | null;
  readonly boundary: EpochBoundary | null;
  /** `to`-domain ticks; 0 for exact mappings. */
  readonly errorBound: bigint;
  /** Parameters for every vCPU (exactly one of `params` / `vcpus` is set). */
  readonly params?: JsonValue;
  /** Parameters per vCPU index. */
  readonly vcpus?: ReadonlyMap<number, JsonValue>;
}

/** A parsed, validated mapping file envelope. */
export interface MappingFile {
  readonly schema: typeof MAPPING_SCHEMA;
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  readonly createdAt: string;
  readonly producer: string;
  readonly exact: boolean;
  /** The largest epoch error bound. */
  readonly errorBound: bigint;
  readonly origin: JsonObject | null;
  readonly epochs: readonly MappingEpoch[];
}

// ---------------------------------------------------------------------------
// Strict JSON readers for codecs and the envelope.

/** A typed `INVALID_MAPPING` error naming the JSON path. */
export function mappingError(path: string, message: string): ClocksourceError {
  return new ClocksourceError("INVALID_MAPPING", `invalid mapping file: ${path}: ${message}`);
}

function describeJson(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Requires a JSON object (not an array, not null). */
export function jsonObject(v: unknown, path: string): JsonObject {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw mappingError(path, `expected an object, got ${describeJson(v)}`);
  return v as JsonObject;
}

/** Rejects keys outside `allowed` and requires every key in `required`. */
export function checkKeys(obj: JsonObject, path: string, required: readonly string[], optional: readonly string[] = []): void {
  for (const k of required) if (!Object.hasOwn(obj, k)) throw mappingError(`${path}.${k}`, "missing");
  const allowed = new Set([...required, ...optional]);
  for (const k of Object.keys(obj)) if (!allowed.has(k)) throw mappingError(`${path}.${k}`, `unknown field (allowed: ${[...allowed].join(", ")})`);
}

/** Requires a non-empty string. */
export function jsonString(v: unknown, path: string): string {
  if (typeof v !== "string" || v.length === 0) throw mappingError(path, `expected a non-empty string, got ${describeJson(v)}`);
  return v;
}

/** Requires a boolean. */
export function jsonBoolean(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw mappingError(path, `expected true or false, got ${describeJson(v)}`);
  return v;
}

/** Requires a JSON integer number in [min, max] (for small values such as bit counts). */
export function jsonInt(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw mappingError(path, `expected an integer in ${min}..${max}, got ${describeJson(v)}`);
  return v;
}

/** Requires an unsigned 64-bit integer written as a decimal string (no sign, no leading zeros). */
export function jsonU64(v: unknown, path: string): bigint {
  if (typeof v !== "string" || !/^(0|[1-9][0-9]*)$/.test(v)) throw mappingError(path, `expected a u64 as a decimal string, got ${describeJson(v)}`);
  const n = BigInt(v);
  if (n > U64_MAX) throw mappingError(path, `exceeds 2^64-1: ${describeJson(v)}`);
  return n;
}

/** Requires a signed 64-bit integer written as a decimal string (`-` allowed, no leading zeros). */
export function jsonI64(v: unknown, path: string): bigint {
  if (typeof v !== "string" || !/^(0|-?[1-9][0-9]*)$/.test(v)) throw mappingError(path, `expected a signed 64-bit integer as a decimal string, got ${describeJson(v)}`);
  const n = BigInt(v);
  if (n < -(1n << 63n) || n > (1n << 63n) - 1n) throw mappingError(path, `out of the signed 64-bit range: ${describeJson(v)}`);
  return n;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Requires an ISO 8601 UTC timestamp (`YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`) naming a
 * real instant: `Date.parse` rolls `2025-02-30` over to March, so the calendar
 * is checked here (no leap second: `:60` is refused, as JavaScript dates cannot hold it).
 */
export function jsonTimestamp(v: unknown, path: string): string {
  const m = typeof v === "string" ? TIMESTAMP.exec(v) : null;
  if (!m) throw mappingError(path, `expected an ISO 8601 UTC timestamp, got ${describeJson(v)}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw mappingError(path, `not a real date and time: ${describeJson(v)}`);
  }
  return v as string;
}

/** Orders two timestamps accepted by {@link jsonTimestamp} exactly (to the nanosecond). */
export function compareTimestamps(a: string, b: string): number {
  const key = (t: string) => {
    const m = TIMESTAMP.exec(t);
    if (!m) throw new ClocksourceError("INVALID_ARGUMENT", `not a timestamp: ${JSON.stringify(t)}`);
    return `${m.slice(1, 7).join("")}${(m[7] ?? "").padEnd(9, "0")}`;
  };
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** A domain name: `<context>.<counter>` words (letters, digits, `_`, `-`, `.`). */
function jsonDomain(v: unknown, path: string): string {
  const s = jsonString(v, path);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(s) || s.length > 64) throw mappingError(path, `not a clock domain name: ${describeJson(s)}`);
  return s;
}

// ---------------------------------------------------------------------------
// Parse

const ENVELOPE_REQUIRED = ["schema", "kind", "from", "to", "createdAt", "producer", "exact", "errorBound", "epochs"] as const;
const EPOCH_REQUIRED = ["observedAt", "validFrom", "validUntil", "errorBound"] as const;

function parseEpoch(v: unknown, path: string, exact: boolean): MappingEpoch {
  const o = jsonObject(v, path);
  checkKeys(o, path, EPOCH_REQUIRED, ["lastObservedAt", "boundary", "params", "vcpus"]);
  const observedAt = jsonTimestamp(o.observedAt, `${path}.observedAt`);
  const lastObservedAt = o.lastObservedAt === undefined || o.lastObservedAt === null ? null : jsonTimestamp(o.lastObservedAt, `${path}.lastObservedAt`);
  if (lastObservedAt !== null && compareTimestamps(lastObservedAt, observedAt) < 0) throw mappingError(`${path}.lastObservedAt`, `is before observedAt (${observedAt})`);
  const validFrom = o.validFrom === null ? null : jsonU64(o.validFrom, `${path}.validFrom`);
  const validUntil = o.validUntil === null ? null : jsonU64(o.validUntil, `${path}.validUntil`);
  if (validFrom !== null && validUntil !== null && validUntil <= validFrom) {
    throw mappingError(`${path}.validUntil`, `must be above validFrom (${validFrom}), got ${validUntil}`);
  }
  if (validUntil === 0n) throw mappingError(`${path}.validUntil`, "an empty range (0, exclusive)");
  let boundary: EpochBoundary | null = null;
  if (o.boundary !== undefined && o.boundary !== null) {
    const bp = `${path}.boundary`;
    const b = jsonObject(o.boundary, bp);
    checkKeys(b, bp, ["notBefore", "notAfter", "sourceFrom", "sourceUntil"]);
    boundary = {
      notBefore: jsonTimestamp(b.notBefore, `${bp}.notBefore`),
      notAfter: jsonTimestamp(b.notAfter, `${bp}.notAfter`),
      sourceFrom: jsonU64(b.sourceFrom, `${bp}.sourceFrom`),
      sourceUntil: jsonU64(b.sourceUntil, `${bp}.sourceUntil`),
    };
    if (compareTimestamps(boundary.notAfter, boundary.notBefore) < 0) throw mappingError(`${bp}.notAfter`, `is before notBefore (${boundary.notBefore})`);
    if (boundary.sourceUntil < boundary.sourceFrom) throw mappingError(`${bp}.sourceUntil`, `is below sourceFrom (${boundary.sourceFrom}), got ${boundary.sourceUntil}`);
  }
  const errorBound = jsonU64(o.errorBound, `${path}.errorBound`);
  if (exact && errorBound !== 0n) throw mappingError(`${path}.errorBound`, `an exact mapping has error bound 0, got ${errorBound}`);
  const hasParams = o.params !== undefined;
  const hasVcpus = o.vcpus !== undefined;
  if (hasParams === hasVcpus) throw mappingError(path, "needs exactly one of `params` (all vCPUs) or `vcpus` (per vCPU)");
  const base = { observedAt, lastObservedAt, validFrom, validUntil, boundary, errorBound };
  if (hasParams) return { ...base, params: o.params as JsonValue };
  const vp = `${path}.vcpus`;
  const vo = jsonObject(o.vcpus, vp);
  const vcpus = new Map<number, JsonValue>();
  for (const [k, pv] of Object.entries(vo)) {
    if (!/^(0|[1-9][0-9]{0,5})$/.test(k)) throw mappingError(`${vp}.${k}`, "a vCPU key must be a decimal index 0..999999");
    vcpus.set(Number(k), pv);
  }
  if (vcpus.size === 0) throw mappingError(vp, "no vCPUs");
  return { ...base, vcpus: new Map([...vcpus].sort((a, b) => a[0] - b[0])) };
}

/**
 * Parses and validates a mapping file's envelope (not the kind's parameters:
 * see {@link checkMappingParams}). Strict: unknown fields, numbers where a
 * decimal string is required, bad timestamps and empty epoch lists are errors.
 * @throws ClocksourceError `INVALID_MAPPING` naming the JSON path
 */
export function parseMappingFile(text: string): MappingFile {
  let raw: unknown;
  try {
    raw = parseStrictJson(text);
  } catch (e) {
    if (e instanceof StrictJsonError) throw new ClocksourceError("INVALID_MAPPING", `invalid mapping file: ${e.message}`);
    throw mappingError("$", `not JSON: ${(e as Error).message}`);
  }
  const o = jsonObject(raw, "$");
  if (o.schema !== MAPPING_SCHEMA) throw mappingError("$.schema", `expected ${JSON.stringify(MAPPING_SCHEMA)}, got ${describeJson(o.schema)}`);
  checkKeys(o, "$", ENVELOPE_REQUIRED, ["origin"]);
  const kind = jsonString(o.kind, "$.kind");
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(kind)) throw mappingError("$.kind", `not a kebab-case kind name: ${describeJson(kind)}`);
  const from = jsonDomain(o.from, "$.from");
  const to = jsonDomain(o.to, "$.to");
  const createdAt = jsonTimestamp(o.createdAt, "$.createdAt");
  const producer = jsonString(o.producer, "$.producer");
  const exact = jsonBoolean(o.exact, "$.exact");
  const errorBound = jsonU64(o.errorBound, "$.errorBound");
  if (exact && errorBound !== 0n) throw mappingError("$.errorBound", `an exact mapping has error bound 0, got ${errorBound}`);
  const origin = o.origin === undefined || o.origin === null ? null : jsonObject(o.origin, "$.origin");
  if (!Array.isArray(o.epochs)) throw mappingError("$.epochs", `expected an array, got ${describeJson(o.epochs)}`);
  if (o.epochs.length === 0) throw mappingError("$.epochs", "no epochs");
  const epochs = (o.epochs as unknown[]).map((e, i) => parseEpoch(e, `$.epochs[${i}]`, exact));
  let max = 0n;
  for (const e of epochs) if (e.errorBound > max) max = e.errorBound;
  if (errorBound < max) throw mappingError("$.errorBound", `smaller than an epoch's error bound (${max})`);
  return { schema: MAPPING_SCHEMA, kind, from, to, createdAt, producer, exact, errorBound, origin, epochs };
}

/**
 * The codec for a file's kind, checking the file's `exact` and (when given)
 * its `from`/`to` domains against what the codec declares.
 * @throws ClocksourceError `INVALID_MAPPING` for an unknown kind, or a flag or domain pair the kind does not have
 */
export function codecFor(file: Pick<MappingFile, "kind" | "exact"> & Partial<Pick<MappingFile, "from" | "to">>, registry: MappingCodecRegistry): MappingCodec<any> {
  const codec = registry.get(file.kind);
  if (!codec) throw mappingError("$.kind", `unknown mapping kind ${JSON.stringify(file.kind)} (known: ${[...registry.keys()].join(", ") || "none"})`);
  if (codec.exact !== file.exact) throw mappingError("$.exact", `kind ${file.kind} is ${codec.exact ? "exact" : "estimated"}, the file says exact=${file.exact}`);
  if (codec.domains && file.from !== undefined && file.to !== undefined && !codec.domains.some((d) => d.from === file.from && d.to === file.to)) {
    const accepted = codec.domains.map((d) => `${d.from} → ${d.to}`).join(", ");
    throw mappingError(codec.domains.some((d) => d.from === file.from) ? "$.to" : "$.from", `kind ${file.kind} maps ${accepted}, not ${file.from} → ${file.to}`);
  }
  return codec;
}

/**
 * Validates every epoch's parameters with the kind's codec, so a bad file
 * fails when it is loaded rather than at the first value converted.
 * @throws ClocksourceError `INVALID_MAPPING`
 */
export function checkMappingParams(file: MappingFile, registry: MappingCodecRegistry): void {
  const codec = codecFor(file, registry);
  file.epochs.forEach((e, i) => {
    if (e.params !== undefined) codec.parseParams(e.params, `$.epochs[${i}].params`);
    for (const [n, p] of e.vcpus ?? []) codec.parseParams(p, `$.epochs[${i}].vcpus.${n}`);
  });
}

// ---------------------------------------------------------------------------
// Build and serialize

/** An epoch as a producer builds it: parameters already typed. */
export interface EpochInput<P> {
  readonly observedAt: string;
  readonly lastObservedAt?: string | null;
  readonly validFrom?: bigint | null;
  readonly validUntil?: bigint | null;
  readonly boundary?: EpochBoundary | null;
  readonly errorBound?: bigint;
  /** Same parameters for all vCPUs … */
  readonly params?: P;
  /** … or per vCPU. */
  readonly vcpus?: ReadonlyMap<number, P>;
}

/** Everything a producer states about a mapping. */
export interface MappingInput<P> {
  readonly from: string;
  readonly to: string;
  readonly producer: string;
  readonly createdAt?: string;
  readonly origin?: JsonObject | null;
  readonly epochs: readonly EpochInput<P>[];
}

/**
 * Builds a mapping file from typed parameters, validating the result by
 * round-tripping it through {@link parseMappingFile} and the codec.
 * @throws ClocksourceError `INVALID_MAPPING` when the input is inconsistent
 */
export function buildMappingFile<P>(codec: MappingCodec<P>, input: MappingInput<P>): MappingFile {
  const epochs = input.epochs.map((e) => {
    const base = {
      observedAt: e.observedAt,
      lastObservedAt: e.lastObservedAt ?? null,
      validFrom: e.validFrom ?? null,
      validUntil: e.validUntil ?? null,
      boundary: e.boundary ?? null,
      errorBound: e.errorBound ?? 0n,
    };
    if (e.vcpus) return { ...base, vcpus: new Map([...e.vcpus].map(([k, p]) => [k, codec.serializeParams(p) as JsonValue])) };
    return { ...base, params: codec.serializeParams(e.params as P) as JsonValue };
  });
  let errorBound = 0n;
  for (const e of epochs) if (e.errorBound > errorBound) errorBound = e.errorBound;
  const file: MappingFile = {
    schema: MAPPING_SCHEMA,
    kind: codec.kind,
    from: input.from,
    to: input.to,
    createdAt: input.createdAt ?? new Date().toISOString(),
    producer: input.producer,
    exact: codec.exact,
    errorBound,
    origin: input.origin ?? null,
    epochs,
  };
  const checked = parseMappingFile(serializeMappingFile(file));
  checkMappingParams(checked, mappingCodecRegistry([codec]));
  return checked;
}

/** The JSON object of a mapping file (u64s as decimal strings). */
export function mappingFileToJson(file: MappingFile): JsonObject {
  const u = (v: bigint | null) => (v === null ? null : v.toString());
  const out: Record<string, JsonValue> = {
    schema: file.schema,
    kind: file.kind,
    from: file.from,
    to: file.to,
    createdAt: file.createdAt,
    producer: file.producer,
    exact: file.exact,
    errorBound: file.errorBound.toString(),
  };
  if (file.origin) out.origin = file.origin;
  out.epochs = file.epochs.map((e) => {
    const o: Record<string, JsonValue> = {
      observedAt: e.observedAt,
      lastObservedAt: e.lastObservedAt,
      validFrom: u(e.validFrom),
      validUntil: u(e.validUntil),
      boundary: e.boundary
        ? { notBefore: e.boundary.notBefore, notAfter: e.boundary.notAfter, sourceFrom: e.boundary.sourceFrom.toString(), sourceUntil: e.boundary.sourceUntil.toString() }
        : null,
      errorBound: e.errorBound.toString(),
    };
    if (e.vcpus) o.vcpus = Object.fromEntries([...e.vcpus].map(([k, p]) => [String(k), p]));
    else o.params = e.params ?? null;
    return o;
  });
  return out;
}

/** Serializes a mapping file: 2-space JSON with a trailing newline. */
export function serializeMappingFile(file: MappingFile): string {
  return `${JSON.stringify(mappingFileToJson(file), null, 2)}\n`;
}

/** Returns a copy with epochs appended (and the file's error bound updated). */
export function appendEpochs(file: MappingFile, epochs: readonly MappingEpoch[]): MappingFile {
  const all = [...file.epochs, ...epochs];
  let errorBound = 0n;
  for (const e of all) if (e.errorBound > errorBound) errorBound = e.errorBound;
  return { ...file, errorBound, epochs: all };
}

/**
 * Writes `text` to the file the user named, by the rules of {@link writeUserFileSync}
 * (atomic replacement of regular files only; `-` is standard output; devices, FIFOs
 * and directories are never replaced).
 * @deprecated use {@link writeUserFile} or {@link writeUserFileSync}
 * @throws ClocksourceError `IO_ERROR`
 */
export function writeFileAtomic(path: string, text: string): void {
  writeUserFileSync(path, text);
}

/** Serializes and writes a mapping file (see {@link writeUserFileSync}). @throws ClocksourceError `IO_ERROR` */
export function writeMappingFileAtomic(path: string, file: MappingFile, options: WriteUserFileOptions = {}): void {
  writeUserFileSync(path, serializeMappingFile(file), { what: "mapping file", ...options });
}

/** The largest mapping file read: tens of thousands of epochs, far below what would strain memory when parsed. */
export const MAPPING_FILE_MAX_BYTES = 32 * 1024 * 1024;

function decodeMapping(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw mappingError("$", "not UTF-8 text");
  }
}

/**
 * Reads and parses the mapping file the user named (envelope only; see
 * {@link checkMappingParams}), under the rules of {@link readUserFile}: a
 * regular file of at most {@link MAPPING_FILE_MAX_BYTES}, never a FIFO or device.
 * @throws ClocksourceError `IO_ERROR` (cannot read), `INVALID_MAPPING` (bad content)
 */
export function readMappingFile(path: string, maxBytes = MAPPING_FILE_MAX_BYTES): MappingFile {
  return parseMappingFile(decodeMapping(readUserFile(path, { maxBytes, what: "mapping file" })));
}

/** {@link readMappingFile} without blocking the event loop (for servers re-reading a file). */
export async function readMappingFileAsync(path: string, maxBytes = MAPPING_FILE_MAX_BYTES): Promise<MappingFile> {
  return parseMappingFile(decodeMapping(await readUserFileAsync(path, { maxBytes, what: "mapping file" })));
}

/**
 * Serializes and writes a mapping file to the file the user named (see
 * {@link writeUserFile}: `-` is standard output, regular files are replaced
 * atomically, nothing else is ever replaced).
 * @throws ClocksourceError `IO_ERROR`
 */
export function writeMappingFile(path: string, file: MappingFile, options: WriteUserFileOptions = {}): Promise<void> {
  return writeUserFile(path, serializeMappingFile(file), { what: "mapping file", ...options });
}

// ---------------------------------------------------------------------------
// Resolve: pick an epoch and convert

/** How to resolve a file into conversion functions. */
export interface ResolveOptions {
  /** vCPU index; needed only where an epoch's vCPUs differ. */
  readonly vcpu?: number;
  /** Force this epoch index for every value instead of choosing by timestamp. */
  readonly epoch?: number;
}

/** The outcome of converting one value. */
export interface Conversion {
  readonly value: bigint;
  /** The epoch index used. */
  readonly epoch: number;
  /** True when an earlier epoch also covers the value (an epoch switch window, or the source clock went back). */
  readonly ambiguous: boolean;
}

/** A mapping file resolved for one vCPU: converts single values, picking the epoch by timestamp. */
export interface ResolvedMapping {
  readonly file: MappingFile;
  /** Source → target (`from` → `to`). @throws ClocksourceError `INVALID_U64`; `OUT_OF_RANGE` when no epoch covers the value */
  forward(value: bigint): Conversion;
  /** Target → source. @throws ClocksourceError `OUT_OF_RANGE` when no epoch's inverse lands in its range */
  inverse(value: bigint): Conversion;
  /** The conversion functions of each epoch (index = epoch index). */
  readonly functions: readonly MappingFunction[];
  /** Each epoch's batch operations when the kind's codec has a batch hook, else null (index = epoch index). */
  readonly batch?: readonly (BatchMapping | null)[];
  /** The epoch every value uses ({@link ResolveOptions.epoch}), or undefined when chosen by value. */
  readonly forcedEpoch?: number;
}

function canonical(v: JsonValue | undefined): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x)).join(",")}]`;
  const o = v as JsonObject;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
}

/**
 * Runs a conversion; a value outside the function's domain (`OUT_OF_RANGE`)
 * gives undefined, any other error is thrown.
 */
export function withinRange<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (isClocksourceError(e, "OUT_OF_RANGE")) return undefined;
    throw e;
  }
}

function inRange(e: MappingEpoch, v: bigint): boolean {
  return (e.validFrom === null || v >= e.validFrom) && (e.validUntil === null || v < e.validUntil);
}

/** The parameters one epoch has for the requested vCPU. */
function epochParams(e: MappingEpoch, index: number, vcpu: number | undefined): { json: JsonValue; path: string; vcpu: number | null } {
  if (e.params !== undefined) return { json: e.params, path: `$.epochs[${index}].params`, vcpu: null };
  const vcpus = e.vcpus as ReadonlyMap<number, JsonValue>;
  if (vcpu !== undefined) {
    const p = vcpus.get(vcpu);
    if (p === undefined) throw new ClocksourceError("INVALID_ARGUMENT", `epoch ${index} has no vCPU ${vcpu} (it has ${[...vcpus.keys()].join(", ")})`);
    return { json: p, path: `$.epochs[${index}].vcpus.${vcpu}`, vcpu };
  }
  const first = vcpus.entries().next().value as [number, JsonValue];
  const key = canonical(first[1]);
  for (const [n, p] of vcpus) {
    if (canonical(p) !== key) {
      throw new ClocksourceError("INVALID_ARGUMENT", `the vCPUs' parameters differ in epoch ${index} (vCPU ${first[0]} vs ${n}): pass --vcpu N`);
    }
  }
  return { json: first[1], path: `$.epochs[${index}].vcpus.${first[0]}`, vcpu: null };
}

/**
 * Resolves a parsed file into conversion functions for one vCPU.
 * @throws ClocksourceError `INVALID_MAPPING` (unknown kind, bad params), `INVALID_ARGUMENT`
 *   (no such epoch or vCPU; vCPUs differ and none was chosen)
 */
export function resolveMapping(file: MappingFile, registry: MappingCodecRegistry, options: ResolveOptions = {}): ResolvedMapping {
  const codec = codecFor(file, registry);
  if (options.epoch !== undefined && (!Number.isInteger(options.epoch) || options.epoch < 0 || options.epoch >= file.epochs.length)) {
    throw new ClocksourceError("INVALID_ARGUMENT", `no epoch ${options.epoch}: the file has ${file.epochs.length} (0..${file.epochs.length - 1})`);
  }
  const batch: (BatchMapping | null)[] = [];
  const functions = file.epochs.map((e, i) => {
    const p = epochParams(e, i, options.vcpu);
    const params = codec.parseParams(p.json, p.path);
    const context = { vcpu: p.vcpu, epoch: i };
    batch.push(codec.createBatch ? codec.createBatch(params, context) : null);
    return codec.create(params, context);
  });
  const epochs = file.epochs;
  const forced = options.epoch;
  const forward = (v: bigint): Conversion => {
    assertU64(v, `${file.from} value`);
    if (forced !== undefined) return { value: (functions[forced] as MappingFunction).forward(v), epoch: forced, ambiguous: false };
    for (let i = epochs.length - 1; i >= 0; i--) {
      if (!inRange(epochs[i] as MappingEpoch, v)) continue;
      let ambiguous = false;
      for (let j = i - 1; j >= 0 && !ambiguous; j--) ambiguous = inRange(epochs[j] as MappingEpoch, v);
      const value = withinRange(() => (functions[i] as MappingFunction).forward(v));
      if (value === undefined) continue;
      return { value, epoch: i, ambiguous };
    }
    throw new ClocksourceError("OUT_OF_RANGE", `${v} (${file.from}) is outside every epoch's validity`);
  };
  const inverse = (w: bigint): Conversion => {
    assertU64(w, `${file.to} value`);
    if (forced !== undefined) return { value: (functions[forced] as MappingFunction).inverse(w), epoch: forced, ambiguous: false };
    for (let i = epochs.length - 1; i >= 0; i--) {
      const v = withinRange(() => (functions[i] as MappingFunction).inverse(w));
      if (v === undefined || !inRange(epochs[i] as MappingEpoch, v)) continue;
      let ambiguous = false;
      for (let j = i - 1; j >= 0 && !ambiguous; j--) {
        const vj = withinRange(() => (functions[j] as MappingFunction).inverse(w));
        ambiguous = vj !== undefined && inRange(epochs[j] as MappingEpoch, vj);
      }
      return { value: v, epoch: i, ambiguous };
    }
    throw new ClocksourceError("OUT_OF_RANGE", `${w} (${file.to}) maps back outside every epoch's validity`);
  };
  return { file, forward, inverse, functions, batch, ...(forced !== undefined ? { forcedEpoch: forced } : {}) };
}
