import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CapabilityProber, createClockContainer, DirectorySystemView, FactSet, type Fact } from "@clocksource/core";
import { PARAVIRT_FACT, ParavirtDeviceProbe, register } from "../src/index.js";
import { announceFixtureSkip, fixtureMachines, HAVE_FIXTURES, machineRoot } from "../../../test/support/fixtures.js";
import { tempDir } from "./net-helpers.js";

announceFixtureSkip();

/** All facts for a root, through the real container (core's probes run first). */
function factsFor(root: string, live = false): FactSet {
  const c = createClockContainer({ view: new DirectorySystemView(root, live), env: {} });
  register(c);
  return c.resolve(CapabilityProber).run();
}

function paravirtFacts(facts: FactSet): Fact[] {
  return facts.all().filter((f) => f.name.startsWith("paravirt."));
}

describe.skipIf(!HAVE_FIXTURES)("paravirt device probe on captured machines", () => {
  it("gives every fact a source, and unknown ones a reason, on every machine", () => {
    for (const m of fixtureMachines()) {
      const facts = paravirtFacts(factsFor(machineRoot(m)));
      expect(facts.map((f) => f.name)).toEqual(expect.arrayContaining([PARAVIRT_FACT.ptpKvm, PARAVIRT_FACT.virtioPorts, PARAVIRT_FACT.kvmClock, PARAVIRT_FACT.hypervTscPage]));
      for (const f of facts) {
        expect(f.source.length, `${m} ${f.name}`).toBeGreaterThan(0);
        if (f.confidence === "unknown") expect(f.reason, `${m} ${f.name}`).toBeTruthy();
      }
    }
  });

  it("sees the Hyper-V TSC page clocksource on the Hyper-V guest", () => {
    const f = factsFor(machineRoot("rootfs__hyperv-gen2-vm-xeon-w2155"));
    expect(f.value(PARAVIRT_FACT.hypervTscPage)).toBe(true);
    expect(f.value(PARAVIRT_FACT.kvmClock)).toBe(false);
    expect(f.best(PARAVIRT_FACT.hypervTscPage)?.source).toMatch(/available_clocksource/);
  });

  it("sees kvm-clock on the EC2 Nitro (KVM) guest", () => {
    const f = factsFor(machineRoot("rootfs__aws-ec2-nitro-r5.large"));
    expect(f.value(PARAVIRT_FACT.kvmClock)).toBe(true);
    expect(f.value(PARAVIRT_FACT.hypervTscPage)).toBe(false);
  });

  it("in a snapshot without sys/class/ptp, says it cannot know rather than 'no'", () => {
    const f = factsFor(machineRoot("rootfs__aws-ec2-nitro-r5.large"));
    expect(f.best(PARAVIRT_FACT.ptpKvm)).toBeUndefined();
    expect(f.unknownReasons(PARAVIRT_FACT.ptpKvm).join()).toMatch(/not in the snapshot/);
  });
});

describe("paravirt device probe on a guest-like tree", () => {
  // No captured machine has a ptp_kvm clock or virtio-serial ports, so this
  // tree is written here with the exact sysfs layout the kernel uses.
  it("finds ptp_kvm and named virtio-serial ports", () => {
    const t = tempDir();
    try {
      const root = t.dir;
      mkdirSync(join(root, "sys/class/ptp/ptp0"), { recursive: true });
      writeFileSync(join(root, "sys/class/ptp/ptp0/clock_name"), "KVM virtual PTP\n");
      mkdirSync(join(root, "sys/class/ptp/ptp1"), { recursive: true });
      writeFileSync(join(root, "sys/class/ptp/ptp1/clock_name"), "igb\n");
      for (const [port, name] of [["vport1p1", "org.qemu.guest_agent.0"], ["vport1p2", "org.clocksource.0"], ["vport2p1", ""]]) {
        mkdirSync(join(root, "sys/class/virtio-ports", port as string), { recursive: true });
        writeFileSync(join(root, "sys/class/virtio-ports", port as string, "name"), `${name}\n`);
      }
      const facts = new ParavirtDeviceProbe().probe(new DirectorySystemView(root, false), new FactSet());
      const by = (n: string) => facts.find((f) => f.name === n);
      expect(by(PARAVIRT_FACT.ptpKvm)?.value).toBe(true);
      expect(by(PARAVIRT_FACT.ptpKvm)?.source).toBe('sys/class/ptp/ptp0/clock_name = "KVM virtual PTP"');
      expect(by(PARAVIRT_FACT.ptpKvmDevice)?.value).toBe("/dev/ptp0");
      expect(by(PARAVIRT_FACT.virtioPorts)?.value).toEqual(["org.qemu.guest_agent.0", "org.clocksource.0"]);
      expect(by(PARAVIRT_FACT.virtioPorts)?.reason).toMatch(/vport2p1/);
      expect(by(PARAVIRT_FACT.kvmClock)?.confidence).toBe("unknown");

      writeFileSync(join(root, "sys/class/ptp/ptp0/clock_name"), "something else\n");
      const none = new ParavirtDeviceProbe().probe(new DirectorySystemView(root, false), new FactSet());
      expect(none.find((f) => f.name === PARAVIRT_FACT.ptpKvm)).toMatchObject({ value: false, confidence: "definitive" });
    } finally {
      t.cleanup();
    }
  });

  it("on this machine, reports without throwing", () => {
    const facts = paravirtFacts(factsFor("/", true));
    for (const f of facts) expect(f.source.length).toBeGreaterThan(0);
    expect(facts.find((f) => f.name === PARAVIRT_FACT.ptpKvm)).toBeDefined();
  });
});
