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
  type MappingCodec,
} from "../src/index.js";

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
