import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildMappingFile,
  checkKeys,
  checkMappingParams,
  ClocksourceError,
  jsonI64,
  jsonObject,
  MAPPING_SCHEMA,
  mappingCodecRegistry,
  parseMappingFile,
  resolveMapping,
  serializeMappingFile,
  wrapU64,
  writeMappingFileAtomic,
  readMappingFile,
  readMappingFileAsync,
  compareTimestamps,
  type MappingCodec,
} from "../src/index.js";
import { parseStrictJson, StrictJsonError } from "../src/mapping/strict-json.js";
import { spawnSync } from "node:child_process";
import { symlinkSync, truncateSync } from "node:fs";

/** A test kind: `to = from + delta mod 2^64` (a real, invertible mapping). */
interface Delta {
  readonly delta: bigint;
}
const deltaCodec: MappingCodec<Delta> = {
  kind: "test-delta",
  description: "to = from + delta",
  exact: true,
  parseParams(json, path) {
    const o = jsonObject(json, path);
    checkKeys(o, path, ["delta"]);
    return { delta: jsonI64(o.delta, `${path}.delta`) };
  },
  serializeParams: (p) => ({ delta: p.delta.toString() }),
  create: (p) => ({ forward: (v) => wrapU64(v + p.delta), inverse: (v) => wrapU64(v - p.delta) }),
};
const registry = mappingCodecRegistry([deltaCodec]);
const T0 = "2025-01-01T00:00:00.000Z";
const T1 = "2025-01-01T00:00:01.000Z";
const T2 = "2025-01-01T00:00:02.000Z";

function twoEpochs() {
  return buildMappingFile(deltaCodec, {
    from: "guest.tsc",
    to: "host.tsc",
    producer: "test",
    createdAt: T0,
    epochs: [
      { observedAt: T0, lastObservedAt: T1, validFrom: null, validUntil: 1100n, params: { delta: 1000n } },
      {
        observedAt: T2,
        validFrom: 1000n,
        boundary: { notBefore: T1, notAfter: T2, sourceFrom: 1000n, sourceUntil: 1100n },
        vcpus: new Map([[0, { delta: -5n }], [1, { delta: -5n }]]),
      },
    ],
  });
}

function expectInvalid(text: string, path: string): void {
  let err: unknown;
  try {
    checkMappingParams(parseMappingFile(text), registry);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ClocksourceError);
  expect((err as ClocksourceError).code).toBe("INVALID_MAPPING");
  expect((err as Error).message).toContain(path);
}

describe("mapping file envelope", () => {
  const tmp = mkdtempSync(join(tmpdir(), "mapping-file-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("round-trips through JSON with u64s as decimal strings", () => {
    const file = twoEpochs();
    const text = serializeMappingFile(file);
    const json = JSON.parse(text);
    expect(json.schema).toBe(MAPPING_SCHEMA);
    expect(json.epochs[0].validUntil).toBe("1100");
    expect(json.epochs[1].vcpus["1"]).toEqual({ delta: "-5" });
    expect(json.epochs[1].boundary.sourceFrom).toBe("1000");
    expect(serializeMappingFile(parseMappingFile(text))).toBe(text);
  });

  it("rejects malformed files naming the JSON path", () => {
    const good = JSON.parse(serializeMappingFile(twoEpochs()));
    const mutate = (f: (j: any) => void) => {
      const j = structuredClone(good);
      f(j);
      return JSON.stringify(j);
    };
    expectInvalid("{", "$");
    expectInvalid(mutate((j) => (j.schema = "clocksource.mapping/v2")), "$.schema");
    expectInvalid(mutate((j) => (j.extra = 1)), "$.extra");
    expectInvalid(mutate((j) => delete j.from), "$.from");
    expectInvalid(mutate((j) => (j.epochs = [])), "$.epochs");
    expectInvalid(mutate((j) => (j.epochs[1].validFrom = 1000)), "$.epochs[1].validFrom");
    expectInvalid(mutate((j) => (j.epochs[1].validFrom = "18446744073709551616")), "$.epochs[1].validFrom");
    expectInvalid(mutate((j) => (j.epochs[1].validFrom = "0100")), "$.epochs[1].validFrom");
    expectInvalid(mutate((j) => (j.epochs[0].validUntil = "0")), "$.epochs[0].validUntil");
    expectInvalid(mutate((j) => (j.epochs[0].observedAt = "yesterday")), "$.epochs[0].observedAt");
    expectInvalid(mutate((j) => (j.epochs[0].errorBound = "5")), "$.epochs[0].errorBound");
    expectInvalid(mutate((j) => (j.epochs[1].params = { delta: "1" })), "$.epochs[1]");
    expectInvalid(mutate((j) => (j.epochs[1].vcpus = { x: { delta: "1" } })), "$.epochs[1].vcpus.x");
    expectInvalid(mutate((j) => (j.epochs[1].vcpus["1"].delta = "nine")), "$.epochs[1].vcpus.1.delta");
    expectInvalid(mutate((j) => (j.epochs[0].params.bogus = "1")), "$.epochs[0].params.bogus");
    expectInvalid(mutate((j) => (j.kind = "no-such-kind")), "$.kind");
  });

  it("picks the epoch from the source timestamp, flags the switch window, and honours --epoch", () => {
    const m = resolveMapping(twoEpochs(), registry);
    expect(m.forward(5n)).toEqual({ value: 1005n, epoch: 0, ambiguous: false });
    expect(m.forward(1050n)).toEqual({ value: 1045n, epoch: 1, ambiguous: true });
    expect(m.forward(5000n)).toEqual({ value: 4995n, epoch: 1, ambiguous: false });
    // reverse: the epoch whose inverse lands in its own range
    expect(m.inverse(4995n)).toEqual({ value: 5000n, epoch: 1, ambiguous: false });
    expect(m.inverse(1050n)).toEqual({ value: 1055n, epoch: 1, ambiguous: true });
    // host 10 maps to guest 15 (epoch 1: below its validFrom) or 2^64-990 (epoch 0: beyond its validUntil)
    expect(() => m.inverse(10n)).toThrow(/outside every epoch/);
    expect(() => m.forward(-1n as bigint)).toThrow();
    const forced = resolveMapping(twoEpochs(), registry, { epoch: 0 });
    expect(forced.forward(5000n).value).toBe(6000n);
    expect(() => resolveMapping(twoEpochs(), registry, { epoch: 2 })).toThrow(/no epoch 2/);
  });

  it("needs --vcpu only where vCPUs differ", () => {
    const file = buildMappingFile(deltaCodec, {
      from: "guest.tsc",
      to: "host.tsc",
      producer: "test",
      epochs: [{ observedAt: T0, vcpus: new Map([[0, { delta: 1n }], [3, { delta: 2n }]]) }],
    });
    expect(() => resolveMapping(file, registry)).toThrow(/pass --vcpu/);
    expect(resolveMapping(file, registry, { vcpu: 3 }).forward(10n).value).toBe(12n);
    expect(() => resolveMapping(file, registry, { vcpu: 1 })).toThrow(/no vCPU 1/);
  });

  it("every value converts back to itself through forward and inverse (property)", () => {
    const m = resolveMapping(twoEpochs(), registry, { epoch: 1 });
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => m.inverse(m.forward(v).value).value === v));
  });

  it("writes atomically: complete file or nothing, no temp files left", () => {
    const path = join(tmp, "m.json");
    writeMappingFileAtomic(path, twoEpochs());
    expect(parseMappingFile(readFileSync(path, "utf8")).epochs).toHaveLength(2);
    expect(readdirSync(tmp)).toEqual(["m.json"]);
    writeFileSync(join(tmp, "keep.json"), "old");
    // A directory that cannot be written: the write fails with IO_ERROR and leaves nothing behind.
    expect(() => writeMappingFileAtomic(join(tmp, "missing-dir", "x.json"), twoEpochs())).toThrow(/cannot write/);
    expect(readFileSync(join(tmp, "keep.json"), "utf8")).toBe("old");
  });
});

describe("strict validation: duplicate keys, real dates, ordered boundaries, domains", () => {
  const text = serializeMappingFile(twoEpochs());
  /** Inserts `"key": value,` as the first member after the first match of `anchor` (an object opening). */
  const dup = (anchor: string, member: string) => {
    const i = text.indexOf(anchor);
    expect(i).toBeGreaterThanOrEqual(0);
    const at = i + anchor.length;
    return `${text.slice(0, at)}${member},${text.slice(at)}`;
  };

  it("rejects a repeated key at every level, naming its path", () => {
    expectInvalid(dup("{", '"kind": "test-delta"'), '$.kind: duplicate key "kind"');
    expectInvalid(dup('"epochs": [\n    {', '"errorBound": "0"'), '$.epochs[0].errorBound: duplicate key "errorBound"');
    expectInvalid(dup('"params": {', '"delta": "7"'), '$.epochs[0].params.delta: duplicate key "delta"');
    expectInvalid(dup('"vcpus": {', '"1": {"delta": "3"}'), '$.epochs[1].vcpus.1: duplicate key "1"');
    expectInvalid(dup('"boundary": {', '"sourceFrom": "1"'), '$.epochs[1].boundary.sourceFrom: duplicate key "sourceFrom"');
    // the same key spelled with an escape is the same key
    expectInvalid(dup('"params": {', '"\\u0064elta": "7"'), 'duplicate key "delta"');
    // equal keys in DIFFERENT objects are fine
    expect(() => parseMappingFile(text)).not.toThrow();
  });

  it("the strict JSON reader agrees with JSON.parse on every document without repeats, and finds any repeat (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const t = JSON.stringify(v);
        expect(parseStrictJson(t)).toEqual(JSON.parse(t));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }), fc.nat(), fc.jsonValue({ maxDepth: 1 }), (o, pick, extra) => {
        const keys = Object.keys(o);
        const key = keys[pick % keys.length] as string;
        const t = `[{${JSON.stringify(key)}:${JSON.stringify(extra)},${JSON.stringify(o).slice(1)}]`;
        expect(() => parseStrictJson(t)).toThrow(StrictJsonError);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses nesting deeper than its bound, without recursion", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(() => parseStrictJson(deep)).toThrow(/nested deeper than 64 levels/);
    expect(() => parseMappingFile(`{"origin": ${"[".repeat(5000)}${"]".repeat(5000)}}`)).toThrow(/invalid mapping file: \$\.origin(\[0\])+: nested deeper/);
  });

  it("rejects impossible dates and times; accepts 29 February of a leap year", () => {
    const good = JSON.parse(text);
    const withDate = (field: (j: any, v: string) => void, v: string) => {
      const j = structuredClone(good);
      field(j, v);
      return JSON.stringify(j);
    };
    const observed = (j: any, v: string) => (j.epochs[0].observedAt = v);
    for (const bad of ["2025-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-01-00T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T23:60:00Z", "2025-01-01T23:59:60Z"]) {
      expectInvalid(withDate(observed, bad), "$.epochs[0].observedAt");
    }
    expectInvalid(withDate((j, v) => (j.createdAt = v), "2025-02-30T00:00:00Z"), "$.createdAt");
    expectInvalid(withDate((j, v) => (j.epochs[1].boundary.notBefore = v), "2025-02-29T12:00:00Z"), "$.epochs[1].boundary.notBefore");
    for (const ok of ["2024-02-29T00:00:00Z", "2000-02-29T23:59:59.999999999Z"]) {
      expect(() => parseMappingFile(withDate((j, v) => {
        j.epochs[0].observedAt = v;
        j.epochs[0].lastObservedAt = v;
      }, ok))).not.toThrow();
    }
  });

  it("rejects a boundary whose window or source range runs backwards, and a last sighting before the first", () => {
    const good = JSON.parse(text);
    const mutate = (f: (j: any) => void) => {
      const j = structuredClone(good);
      f(j);
      return JSON.stringify(j);
    };
    expectInvalid(mutate((j) => Object.assign(j.epochs[1].boundary, { notBefore: T2, notAfter: T1 })), "$.epochs[1].boundary.notAfter: is before notBefore");
    // finer than a millisecond: Date.parse would call these equal
    expectInvalid(mutate((j) => Object.assign(j.epochs[1].boundary, { notBefore: "2025-01-01T00:00:01.0000002Z", notAfter: "2025-01-01T00:00:01.0000001Z" })), "$.epochs[1].boundary.notAfter");
    expectInvalid(mutate((j) => Object.assign(j.epochs[1].boundary, { sourceFrom: "1100", sourceUntil: "1000" })), "$.epochs[1].boundary.sourceUntil: is below sourceFrom");
    expectInvalid(mutate((j) => (j.epochs[0].lastObservedAt = "2024-12-31T23:59:59Z")), "$.epochs[0].lastObservedAt: is before observedAt");
    // an instantaneous switch (equal ends) is allowed
    expect(() => parseMappingFile(mutate((j) => Object.assign(j.epochs[1].boundary, { notBefore: T2, sourceFrom: "1000", sourceUntil: "1000" })))).not.toThrow();
  });

  it("orders timestamps to the nanosecond", () => {
    expect(compareTimestamps("2025-01-01T00:00:00.1Z", "2025-01-01T00:00:00.100000000Z")).toBe(0);
    expect(compareTimestamps("2025-01-01T00:00:00Z", "2025-01-01T00:00:00.000000001Z")).toBe(-1);
    expect(compareTimestamps("2026-01-01T00:00:00Z", "2025-12-31T23:59:59.999Z")).toBe(1);
  });

  it("checks from/to against the domains the kind declares", () => {
    const pinned: MappingCodec<Delta> = { ...deltaCodec, kind: "test-pinned", domains: [{ from: "guest.tsc", to: "host.tsc" }] };
    const reg = mappingCodecRegistry([pinned]);
    const file = buildMappingFile(pinned, { from: "guest.tsc", to: "host.tsc", producer: "t", epochs: [{ observedAt: T0, params: { delta: 1n } }] });
    expect(() => resolveMapping(file, reg)).not.toThrow();
    const wrongTo = parseMappingFile(serializeMappingFile({ ...file, to: "host.monotonic" }));
    expect(() => checkMappingParams(wrongTo, reg)).toThrow("invalid mapping file: $.to: kind test-pinned maps guest.tsc → host.tsc, not guest.tsc → host.monotonic");
    const wrongFrom = parseMappingFile(serializeMappingFile({ ...file, from: "guest.cntvct" }));
    expect(() => resolveMapping(wrongFrom, reg)).toThrow(/\$\.from: kind test-pinned maps/);
    // a producer cannot build one either
    expect(() => buildMappingFile(pinned, { from: "host.tsc", to: "guest.tsc", producer: "t", epochs: [{ observedAt: T0, params: { delta: 1n } }] })).toThrow(/\$\.from/);
  });
});

describe("reading a mapping file the user named", () => {
  const tmp = mkdtempSync(join(tmpdir(), `mapping-read-${process.pid}-`));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("reads a regular file and a link to one", { timeout: 10_000 }, async () => {
    const p = join(tmp, "m.json");
    writeFileSync(p, serializeMappingFile(twoEpochs()));
    symlinkSync(p, join(tmp, "link.json"));
    expect(readMappingFile(join(tmp, "link.json")).epochs).toHaveLength(2);
    expect((await readMappingFileAsync(p)).epochs).toHaveLength(2);
  });

  it("a FIFO, /dev/zero, a huge sparse file: one IO_ERROR line, at once", { timeout: 10_000 }, async () => {
    const fifo = join(tmp, "fifo");
    const made = spawnSync("mkfifo", [fifo]).status === 0;
    if (made) {
      expect(() => readMappingFile(fifo)).toThrow(`mapping file ${fifo} is a FIFO, not a regular file`);
      await expect(readMappingFileAsync(fifo)).rejects.toThrow(/is a FIFO/);
    } else console.warn("skipping the FIFO case: mkfifo failed");
    expect(() => readMappingFile("/dev/zero")).toThrow("mapping file /dev/zero is a character device, not a regular file");
    const huge = join(tmp, "huge.json");
    writeFileSync(huge, "");
    truncateSync(huge, 4 * 1024 ** 3);
    expect(() => readMappingFile(huge)).toThrow(`mapping file ${huge} is larger than ${32 * 1024 * 1024} bytes`);
  });

  it("invalid UTF-8 is an invalid mapping, not replacement characters", () => {
    const p = join(tmp, "latin1.json");
    writeFileSync(p, Buffer.from([0x7b, 0xff, 0x7d]));
    expect(() => readMappingFile(p)).toThrow("invalid mapping file: $: not UTF-8 text");
  });
});
