import { describe, expect, it } from "vitest";
import { buildProbeReport, ClockSelector, createClockContainer, type ProbeReport } from "@clocksource/core";
import { registerBundledBackends } from "../packages/cli/src/backend-packages.js";
import { CORPUS, type CorpusRow, type ExpectedFrequency } from "./corpus-table.js";
import { announceFixtureSkip, fixtureMachines, HAVE_FIXTURES, machineRoot } from "./support/fixtures.js";

announceFixtureSkip();

/** Probes one machine exactly as `clocksource probe --sysroot` does; each machine is probed once. */
const reports = new Map<string, ProbeReport>();
function reportFor(machine: string): ProbeReport {
  let report = reports.get(machine);
  if (!report) {
    const root = machineRoot(machine);
    const c = createClockContainer({ sysroot: root, env: {} });
    registerBundledBackends(c);
    report = buildProbeReport(c.resolve(ClockSelector).rank(), { root, live: false });
    reports.set(machine, report);
  }
  return report;
}

/** The facts behind one report field, so a failure shows where the probe's value came from. */
function factsNamed(report: ProbeReport, prefix: string): string {
  const lines = report.facts
    .filter((f) => f.name === prefix || f.name.startsWith(`${prefix}.`))
    .map((f) => `  ${f.name} = ${JSON.stringify(f.value)} [${f.confidence}] from ${f.source}${f.reason ? ` (${f.reason})` : ""}`);
  return lines.length > 0 ? lines.join("\n") : "  (no such facts)";
}

function why(row: CorpusRow, report: ProbeReport, factPrefix: string): string {
  return [`${row.machine}: ${row.note}`, row.doubt ? `doubt: ${row.doubt}` : "", `probe facts:\n${factsNamed(report, factPrefix)}`].filter(Boolean).join("\n");
}

function expectFrequency(got: number | null, want: ExpectedFrequency | null, message: string): void {
  if (want === null) {
    expect(got, message).toBeNull();
    return;
  }
  expect(got, message).not.toBeNull();
  const relative = Math.abs((got as number) - want.hz) / want.hz;
  expect(relative, `${message}\nexpected ${want.hz} Hz ± ${want.tolerance * 100}% (${want.from}), got ${got} Hz`).toBeLessThanOrEqual(want.tolerance);
}

describe.skipIf(!HAVE_FIXTURES)("corpus table", () => {
  it("has exactly one row per fixture machine folder, sorted by name", () => {
    const names = CORPUS.map((r) => r.machine);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(fixtureMachines());
  });

  it("keeps its own rules: x86 fields only where x86 is possible, Arm fields only on Arm", () => {
    for (const row of CORPUS) {
      // `unknown` arch rows (word size not in the files) may still be known to be x86 or Arm.
      const arm = row.arch === "arm" || row.arch === "arm64";
      const x86 = row.arch === "x86" || row.arch === "x86_64";
      if (arm) expect(row.invariantTsc, row.machine).toBeNull();
      if (arm) expect(row.tscFrequency, row.machine).toBeNull();
      if (x86) expect(row.timerFrequency, row.machine).toBeNull();
      if (x86) expect(row.genericTimer, row.machine).toBeNull();
      expect(row.tscFrequency !== null && row.timerFrequency !== null, row.machine).toBe(false);
      // BogoMIPS is a timer source on arm64 only.
      if (row.timerFrequency?.from === "bogomips") expect(row.arch, row.machine).toBe("arm64");
      if (row.role === "bare-metal" || row.role === "unknown") expect(row.hypervisor, row.machine).toBeNull();
      if (row.role === "guest") expect(row.hypervisor, row.machine).not.toBeNull();
    }
  });
});

describe.skipIf(!HAVE_FIXTURES)("the probe on every corpus machine agrees with the table", () => {
  for (const row of CORPUS) {
    describe(row.machine, () => {
      it("arch", () => {
        const r = reportFor(row.machine);
        expect(r.arch, why(row, r, "arch")).toBe(row.arch);
      });

      it("hypervisor and role", () => {
        const r = reportFor(row.machine);
        const message = `${why(row, r, "virt")}\nresolution notes: ${r.virtualization.notes.join("; ")}`;
        expect({ hypervisor: r.virtualization.hypervisor, role: r.virtualization.role }, message).toEqual({ hypervisor: row.hypervisor, role: row.role });
      });

      it("invariant TSC", () => {
        const r = reportFor(row.machine);
        expect(r.x86?.invariantTsc ?? null, why(row, r, "x86.invariant_tsc")).toBe(row.invariantTsc);
      });

      it("TSC frequency", () => {
        const r = reportFor(row.machine);
        expectFrequency(r.x86?.tscFrequencyHz ?? null, row.tscFrequency, why(row, r, "x86.tsc_frequency_hz"));
      });

      it("timer frequency", () => {
        const r = reportFor(row.machine);
        expectFrequency(r.arm?.timerFrequencyHz ?? null, row.timerFrequency, why(row, r, "arm.timer_frequency_hz"));
      });

      it("kernel clocksource", () => {
        const r = reportFor(row.machine);
        expect(r.kernelClocksource.current, why(row, r, "kernel.clocksource")).toBe(row.clocksource);
      });

      it("generic timer", () => {
        const r = reportFor(row.machine);
        expect(r.arm?.genericTimer ?? null, why(row, r, "arm.generic_timer")).toBe(row.genericTimer);
      });
    });
  }
});
