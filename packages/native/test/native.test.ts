import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { availability, counterReader, loadNativeReader, native, requireNative } from "../src/index.js";

if (!availability.available) console.warn(`skipping native counter tests: ${availability.reason}`);

describe("@clocksource/native availability", () => {
  it("is an object saying whether the addon loaded, and why not", () => {
    expect(typeof availability.available).toBe("boolean");
    if (availability.available) {
      // A source build wins over the shipped prebuilt binary (node-gyp-build's order).
      expect(availability.path).toMatch(/(build[/\\]Release[/\\]clocksource_native|prebuilds[/\\]linux-(x64|arm64)[/\\]@clocksource\+native\.glibc)\.node$/);
      expect(availability.origin).toBe(/prebuilds/.test(availability.path) ? "prebuilt" : "source build");
      expect(native).not.toBeNull();
      expect(availability.reason).toBeUndefined();
    } else {
      expect(native).toBeNull();
      expect(availability.reason).toBeTruthy();
      expect(() => requireNative()).toThrow(/native reader unavailable: /);
    }
  });

  it("loadNativeReader gives the binding and its fast reader, or the same reason availability gives", () => {
    const r = loadNativeReader();
    if (availability.available) {
      expect(r).toEqual({ ok: true, native, counterReader });
    } else {
      expect(r).toEqual({ ok: false, reason: availability.reason });
    }
  });

  it("CLOCKSOURCE_NATIVE=0 makes it unavailable with that reason (the fallback path every backend sees)", () => {
    const dist = join(__dirname, "..", "dist", "index.js");
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `import(${JSON.stringify(dist)}).then((m) => console.log(JSON.stringify([m.availability, m.native, m.counterReader(), m.loadNativeReader()])))`], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", CLOCKSOURCE_NATIVE: "0" },
    });
    expect(r.stderr).toBe("");
    const [avail, bin, reader, loaded] = JSON.parse(r.stdout) as [{ available: boolean; reason: string }, unknown, unknown, unknown];
    expect(avail).toMatchObject({ available: false, reason: "disabled by CLOCKSOURCE_NATIVE=0" });
    expect(bin).toBeNull();
    expect(reader).toBeNull();
    expect(loaded).toEqual({ ok: false, reason: "disabled by CLOCKSOURCE_NATIVE=0" });
  });
});

describe.skipIf(!availability.available)("@clocksource/native counter reads (live)", () => {
  const n = native as NonNullable<typeof native>;

  it("reads a counter that moves forward", () => {
    expect(["tsc", "cntvct"]).toContain(n.counter);
    const read = n.readCounter as () => bigint;
    const a = read();
    const b = read();
    expect(typeof a).toBe("bigint");
    // Same thread, back to back: an invariant/virtual counter never goes back between two reads on one CPU.
    expect(b >= a || a - b < 1_000_000n).toBe(true);
    expect(b).not.toBe(0n);
  });

  it.skipIf(n?.counter !== "tsc")("x86: rdtsc and rdtscp with the CPU number Linux stores in TSC_AUX", () => {
    const t = (n.rdtsc as () => bigint)();
    const p = (n.rdtscp as () => { tsc: bigint; cpu: number; node: number })();
    expect(p.tsc).toBeGreaterThan(0n);
    expect(t).toBeGreaterThan(0n);
    expect(p.cpu).toBeGreaterThanOrEqual(0);
    expect(p.cpu).toBeLessThan(Math.max(cpus().length, 1) + 4096);
    expect(n.cntvct).toBeUndefined();
  });

  it("pairs a counter bracket with CLOCK_MONOTONIC_RAW", () => {
    const out = new BigUint64Array(3);
    n.readCounterPair(out);
    expect(out[2] as bigint).toBeGreaterThanOrEqual(out[0] as bigint);
    // CLOCK_MONOTONIC_RAW is in ns since boot: positive and below 10 years
    expect(out[1] as bigint).toBeGreaterThan(0n);
    expect(out[1] as bigint).toBeLessThan(10n * 365n * 86400n * 1_000_000_000n);
    expect(() => n.readCounterPair(new BigUint64Array(2))).toThrow(/length >= 3/);
    expect(() => n.readCounterPair(new Float64Array(3) as unknown as BigUint64Array)).toThrow(TypeError);
  });

  it("the sink path writes the counter into a shared BigUint64Array", () => {
    const read = counterReader() as () => bigint;
    const lo = (n.readCounter as () => bigint)();
    const v = read();
    const hi = (n.readCounter as () => bigint)();
    expect(v >= lo && v <= hi).toBe(true);
    expect(() => n.setSink(new BigUint64Array(0))).toThrow(TypeError);
  });
});
