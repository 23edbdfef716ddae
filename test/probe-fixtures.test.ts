import { describe, expect, it } from "vitest";
import { buildProbeReport, ClockSelector, createClockContainer, PROBE_REPORT_SCHEMA } from "@clocksource/core";
import { registerBundledBackends } from "../packages/cli/src/backend-packages.js";
import { announceFixtureSkip, fixtureMachines, HAVE_FIXTURES, machineRoot } from "./support/fixtures.js";

announceFixtureSkip();

describe.skipIf(!HAVE_FIXTURES)("every fixture machine probes without error", () => {
  const machines = fixtureMachines();

  it("has machines to probe", () => {
    expect(machines.length).toBeGreaterThan(50);
  });

  it.each(machines)("%s", (name) => {
    const c = createClockContainer({ sysroot: machineRoot(name), env: {} });
    registerBundledBackends(c);
    const selector = c.resolve(ClockSelector);
    const ranking = selector.rank();
    const report = buildProbeReport(ranking, { root: machineRoot(name), live: false });
    expect(report.schema).toBe(PROBE_REPORT_SCHEMA);
    // No probe crashed: a crash leaves an unknown `probe.<id>` fact.
    expect(report.facts.filter((f) => f.name.startsWith("probe."))).toEqual([]);
    // Every fact names its source and confidence; unknowns carry a reason.
    for (const f of report.facts) {
      expect(f.source.length).toBeGreaterThan(0);
      if (f.confidence === "unknown") expect(f.reason?.length ?? 0).toBeGreaterThan(0);
    }
    // The OS monotonic clock is always there, so something is always selected.
    expect(report.selected).not.toBeNull();
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});
