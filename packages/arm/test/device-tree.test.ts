import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DirectorySystemView } from "@clocksource/core";
import { decodeCells, decodeStringList, decodeU32, findDeviceTreeTimers, walkDeviceTree } from "../src/index.js";
import { announceFixtureSkip, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";
import { dtBytes } from "./support/dts.js";
import { rootWithTimerFrom, rootWithWholeTree, tempRoot, writeFiles } from "./support/trees.js";

announceFixtureSkip();

const bytes = (...b: number[]) => Uint8Array.from(b);
const text = (s: string) => new TextEncoder().encode(s);

describe("property decoders", () => {
  it("splits NUL-separated string lists", () => {
    expect(decodeStringList(text("arm,armv8-timer\0arm,armv7-timer\0"))).toEqual({ ok: true, value: ["arm,armv8-timer", "arm,armv7-timer"] });
    expect(decodeStringList(text("okay\0"))).toEqual({ ok: true, value: ["okay"] });
  });

  it("rejects strings without a terminator, empty values and binary bytes", () => {
    expect(decodeStringList(text("okay")).ok).toBe(false);
    expect(decodeStringList(new Uint8Array(0)).ok).toBe(false);
    expect(decodeStringList(bytes(0x01, 0x6e, 0x00))).toMatchObject({ ok: false, reason: expect.stringMatching(/offset 0/) });
  });

  it("reads big-endian cells", () => {
    // 0x016e3600 is how the HiSilicon snapshot stores 24 MHz.
    expect(decodeU32(bytes(0x01, 0x6e, 0x36, 0x00))).toEqual({ ok: true, value: 24_000_000 });
    expect(decodeCells(bytes(0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff))).toEqual({ ok: true, value: [1, 0xffff_ffff] });
    expect(decodeU32(bytes(1, 2, 3)).ok).toBe(false);
    expect(decodeU32(bytes(0, 0, 0, 1, 0, 0, 0, 2)).ok).toBe(false);
    expect(decodeCells(bytes(1, 2, 3, 4, 5)).ok).toBe(false);
  });
});

describe.skipIf(!HAVE_FIXTURES)("device-tree snapshots", () => {
  it("finds the timer at /soc/amba/arm-timer, not /timer (HiSilicon Hi3519DV500)", () => {
    const dt = findDeviceTreeTimers(new DirectorySystemView(machineRoot("rootfs__hisilicon-hi3519dv500-demo"), false));
    expect(dt.walk.present).toBe(true);
    expect(dt.archTimers).toHaveLength(1);
    const t = dt.archTimers[0]!;
    expect(t.path).toBe("/soc/amba/arm-timer");
    expect(t.compatible).toEqual(["arm,armv8-timer"]);
    expect(t.enabled).toBe(true);
    expect(t.status).toBeNull();
    // clock-frequency file bytes 01 6e 36 00.
    expect(t.clockFrequency?.hz).toBe(24_000_000);
    expect(t.alwaysOn).not.toBeNull();
    expect(t.noTickInSuspend).toBeNull();
    expect(t.errata).toEqual([]);
    expect(dt.problems).toEqual([]);
  });

  it("sees no architected timer on the Cortex-A9 boards, only their other timers", () => {
    const zynq = findDeviceTreeTimers(new DirectorySystemView(machineRoot("rootfs__xilinx-zynq-7000"), false));
    expect(zynq.archTimers).toEqual([]);
    expect(zynq.otherTimers.map((t) => [t.path, t.compatible[0]])).toEqual([
      ["/amba/timer@f8001000", "cdns,ttc"],
      ["/amba/timer@f8002000", "cdns,ttc"],
      ["/amba/timer@f8f00200", "arm,cortex-a9-global-timer"],
    ]);
    const zte = findDeviceTreeTimers(new DirectorySystemView(machineRoot("rootfs__zte-zx279128"), false));
    expect(zte.archTimers).toEqual([]);
    expect(zte.otherTimers.map((t) => t.compatible)).toEqual([["arm,cortex-a9-global-timer"]]);
  });

  it("reports a machine without a device tree as absent", () => {
    const walk = walkDeviceTree(new DirectorySystemView(machineRoot("pytorch-cpuinfo__jetson-tx1"), false));
    expect(walk.present).toBe(false);
    expect(walk.nodes).toEqual([]);
  });
});

describe.skipIf(!HAVE_FIXTURES)("trees built from the kernel's device-tree sources", () => {
  it("fsl-ls1043a: fsl,erratum-a008585 on the timer node", () => {
    const { view, node } = rootWithTimerFrom("arm64__freescale__fsl-ls1043a.dtsi", "arm,armv8-timer");
    expect(node.skipped).toEqual(["interrupts"]); // GIC_PPI macros
    const t = findDeviceTreeTimers(view).archTimers[0]!;
    expect(t.errata.map((e) => e.erratum.id)).toEqual(["fsl-a008585"]);
    expect(t.clockFrequency).toBeNull();
    expect(t.noTickInSuspend).toBeNull();
  });

  it("sun50i-a64: allwinner,erratum-unknown1 and arm,no-tick-in-suspend", () => {
    const t = findDeviceTreeTimers(rootWithTimerFrom("arm64__allwinner__sun50i-a64.dtsi", "arm,armv8-timer").view).archTimers[0]!;
    expect(t.errata.map((e) => e.erratum.id)).toEqual(["allwinner-unknown1"]);
    expect(t.noTickInSuspend).not.toBeNull();
    expect(t.alwaysOn).toBeNull();
  });

  it("imx8mm: an 8 MHz clock-frequency and arm,no-tick-in-suspend", () => {
    const t = findDeviceTreeTimers(rootWithTimerFrom("arm64__freescale__imx8mm.dtsi", "arm,armv8-timer").view).archTimers[0]!;
    expect(t.clockFrequency?.hz).toBe(8_000_000);
    expect(t.noTickInSuspend).not.toBeNull();
    expect(t.errata).toEqual([]);
  });

  it("apm-storm: a 50 MHz clock-frequency, numeric interrupts kept", () => {
    const { view, node } = rootWithTimerFrom("arm64__apm__apm-storm.dtsi", "arm,armv8-timer");
    expect(node.skipped).toEqual([]);
    // <1 0 0xff08>, <1 13 0xff08>, <1 14 0xff08>, <1 15 0xff08>: 12 cells.
    expect(node.properties.get("interrupts")?.length).toBe(48);
    const t = findDeviceTreeTimers(view).archTimers[0]!;
    expect(t.clockFrequency?.hz).toBe(50_000_000);
  });

  it("bcm2837 (Raspberry Pi 3, 32-bit DT): arm,armv7-timer with always-on", () => {
    const t = findDeviceTreeTimers(rootWithTimerFrom("arm__broadcom__bcm2837.dtsi", "arm,armv7-timer").view).archTimers[0]!;
    expect(t.compatible).toEqual(["arm,armv7-timer"]);
    expect(t.alwaysOn).not.toBeNull();
    expect(t.clockFrequency).toBeNull();
  });

  it("rk3399 and tegra210: arm,no-tick-in-suspend, no frequency override", () => {
    for (const f of ["arm64__rockchip__rk3399-base.dtsi", "arm64__nvidia__tegra210.dtsi"]) {
      const t = findDeviceTreeTimers(rootWithTimerFrom(f, "arm,armv8-timer").view).archTimers[0]!;
      expect(t.noTickInSuspend, f).not.toBeNull();
      expect(t.clockFrequency, f).toBeNull();
    }
  });

  it("finds a timer node wherever it sits in a built tree", () => {
    const { view } = rootWithTimerFrom("arm64__freescale__imx8mm.dtsi", "arm,armv8-timer", "/soc@0/bus@30000000/arch-timer");
    const t = findDeviceTreeTimers(view).archTimers[0]!;
    expect(t.path).toBe("/soc@0/bus@30000000/arch-timer");
    expect(t.clockFrequency?.hz).toBe(8_000_000);
  });

  it("Jetson Xavier NX (whole decompiled tree): the enabled armv8 timer, not the disabled nvidia timer's 19.2 MHz", () => {
    const { view } = rootWithWholeTree("jetson-xavier-nx-tegra194.dts_from_R32.4.dts");
    const dt = findDeviceTreeTimers(view);
    expect(dt.walk.nodes.length).toBeGreaterThan(500);
    expect(dt.archTimers.map((t) => [t.path, t.status, t.enabled])).toEqual([["/timer", "okay", true]]);
    expect(dt.archTimers[0]!.clockFrequency).toBeNull();
    const nv = dt.otherTimers.find((t) => t.path === "/timer@3010000");
    expect(nv).toMatchObject({ compatible: ["nvidia,tegra186-timer"], enabled: false });
  });
});

describe("malformed and disabled nodes", () => {
  function buildTimer(props: Record<string, Uint8Array>): DirectorySystemView {
    const root = tempRoot();
    writeFiles(root, Object.fromEntries(Object.entries(props).map(([k, v]) => [`sys/firmware/devicetree/base/timer/${k}`, v])));
    return new DirectorySystemView(root, false);
  }

  it("keeps going past a malformed clock-frequency and names it", () => {
    const view = buildTimer({ compatible: dtBytes.strings(["arm,armv8-timer"]), "clock-frequency": bytes(1, 2, 3) });
    const t = findDeviceTreeTimers(view).archTimers[0]!;
    expect(t.clockFrequency).toBeNull();
    expect(t.problems.join()).toMatch(/clock-frequency: 3 bytes/);
  });

  it("reports a compatible without NUL terminator as a problem, not a timer", () => {
    const view = buildTimer({ compatible: text("arm,armv8-timer") });
    const dt = findDeviceTreeTimers(view);
    expect(dt.archTimers).toEqual([]);
    expect(dt.problems.join()).toMatch(/timer\/compatible: not NUL-terminated/);
  });

  it("honours status: disabled, okay and ok", () => {
    for (const [status, enabled] of [["disabled", false], ["okay", true], ["ok", true], ["fail", false]] as const) {
      const view = buildTimer({ compatible: dtBytes.strings(["arm,armv8-timer"]), status: dtBytes.strings([status]) });
      expect(findDeviceTreeTimers(view).archTimers[0]!.enabled, status).toBe(enabled);
    }
  });

  it("reads the first cell of an over-long clock-frequency, as of_property_read_u32 does", () => {
    const view = buildTimer({ compatible: dtBytes.strings(["arm,armv8-timer"]), "clock-frequency": dtBytes.cells([19_200_000, 7]) });
    const t = findDeviceTreeTimers(view).archTimers[0]!;
    expect(t.clockFrequency?.hz).toBe(19_200_000);
    expect(t.problems.join()).toMatch(/only the first cell/);
  });

  it("does not throw on an unreadable base", () => {
    const walk = walkDeviceTree(new DirectorySystemView(join(tempRoot(), "nowhere"), false));
    expect(walk).toMatchObject({ present: false, reason: "not present" });
  });
});
