import { describe, expect, it } from "vitest";
import {
  erratumForCpu,
  erratumForDtProperty,
  erratumForGtdtOem,
  erratumSafeRead,
  parseGtdt,
  readAllwinnerUnknown1,
  readArm858921,
  readFslA008585,
  readHisilicon161010101,
} from "../src/index.js";
import { gtdt } from "./support/gtdt.js";

/** A register that returns the given values in turn (the last one forever), counting reads. */
function scripted(values: bigint[]) {
  let i = 0;
  const read = () => values[Math.min(i++, values.length - 1)] as bigint;
  return { read, reads: () => i };
}

describe("erratum-safe counter reads", () => {
  it("A-008585: re-reads until two consecutive reads agree", () => {
    const r = scripted([100n, 7n, 101n, 101n, 500n]);
    expect(readFslA008585(r.read)).toBe(101n);
    expect(r.reads()).toBe(4);
    // Bounded: a counter that never repeats still returns.
    let n = 0n;
    expect(readFslA008585(() => n++, 10)).toBe(10n);
  });

  it("161010101: accepts a pair less than 32 ticks apart", () => {
    const r = scripted([1000n, 1000n + 64n, 1000n + 64n + 31n]);
    expect(readHisilicon161010101(r.read)).toBe(1095n);
    expect(r.reads()).toBe(3);
    // A backwards glitch wraps to a huge difference and is rejected too.
    const b = scripted([1000n, 900n, 905n]);
    expect(readHisilicon161010101(b.read)).toBe(905n);
  });

  it("UNKNOWN1: re-reads while the low 9 bits are all 0 or all 1", () => {
    const r = scripted([0x1ffn, 0x200n, 0x201n]);
    expect(readAllwinnerUnknown1(r.read)).toBe(0x201n);
    expect(r.reads()).toBe(3);
    expect(readAllwinnerUnknown1(scripted([0x3fen]).read)).toBe(0x3fen);
  });

  it("858921: keeps the first read when bit 32 changed between two reads", () => {
    expect(readArm858921(scripted([0xffff_ffffn, 0x1_0000_0000n]).read)).toBe(0xffff_ffffn);
    expect(readArm858921(scripted([5n, 6n]).read)).toBe(6n);
  });

  it("composes the workarounds a machine needs, and none when it needs none", () => {
    const plain = scripted([1n, 2n]);
    expect(erratumSafeRead(plain.read, [])()).toBe(1n);
    const both = scripted([10n, 10n, 11n, 11n]);
    // 858921 reads twice through the A-008585 read, which itself reads until agreement.
    expect(erratumSafeRead(both.read, ["fsl-a008585", "arm-858921"])()).toBe(11n);
  });
});

describe("recognising errata", () => {
  it("by device-tree property, CPU part and GTDT OEM identity", () => {
    expect(erratumForDtProperty("fsl,erratum-a008585")?.id).toBe("fsl-a008585");
    expect(erratumForDtProperty("hisilicon,erratum-161010101")?.id).toBe("hisilicon-161010101");
    expect(erratumForDtProperty("allwinner,erratum-unknown1")?.id).toBe("allwinner-unknown1");
    expect(erratumForDtProperty("always-on")).toBeUndefined();
    expect(erratumForCpu(0x41, 0xd09)?.id).toBe("arm-858921");
    expect(erratumForCpu(0x41, 0xd08)).toBeUndefined();
    expect(erratumForCpu(0x48, 0xd09)).toBeUndefined();
    expect(erratumForGtdtOem("HISI  ", "HIP06   ", 0)?.id).toBe("hisilicon-161010101");
    expect(erratumForGtdtOem("HISI  ", "HIP06   ", 1)).toBeUndefined();
    expect(erratumForGtdtOem("HISI  ", "HIP08   ", 0)).toBeUndefined();
  });
});

describe("ACPI GTDT", () => {
  it("reads the OEM identity and the always-on flags", () => {
    expect(parseGtdt(gtdt("HISI", "HIP07", 0, 0, 4))).toEqual({
      ok: true,
      value: { length: 104, oemId: "HISI  ", oemTableId: "HIP07   ", oemRevision: 0, nonSecureEl1AlwaysOn: false, virtualEl1AlwaysOn: true },
    });
  });

  it("rejects short, misnamed, mis-sized and bad-checksum tables", () => {
    expect(parseGtdt(new Uint8Array(20))).toMatchObject({ ok: false, reason: expect.stringMatching(/20 bytes/) });
    const wrongSig = gtdt("A", "B", 0, 0, 0);
    wrongSig[0] = 0x58;
    expect(parseGtdt(wrongSig)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    const t = gtdt("A", "B", 0, 0, 0);
    expect(parseGtdt(t.subarray(0, 96))).toMatchObject({ ok: false, reason: expect.stringMatching(/header length 104/) });
    t[40] = (t[40] as number) + 1;
    expect(parseGtdt(t)).toMatchObject({ ok: false, reason: expect.stringMatching(/checksum/) });
  });
});
