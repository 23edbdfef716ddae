import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildProbeReport, ClockSelector, createClockContainer } from "@clocksource/core";
import { registerBundledBackends } from "../packages/cli/src/backend-packages.js";
import { announceFixtureSkip, fixtureMachines, HAVE_FIXTURES, machineRoot } from "./support/fixtures.js";
import { runCli } from "./support/run-cli.js";

announceFixtureSkip();

function filesUnder(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/** Ways a real file gets damaged: bit flips, truncation, re-encoding, NULs, CR LF, garbage, emptiness, huge numbers. */
type Damage =
  | { kind: "flip"; at: number; byte: number }
  | { kind: "truncate"; at: number }
  | { kind: "utf16" }
  | { kind: "nul"; at: number }
  | { kind: "crlf" }
  | { kind: "empty" }
  | { kind: "garbage"; bytes: Uint8Array }
  | { kind: "huge-numbers" };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.constant({ kind: "utf16" as const }),
  fc.record({ kind: fc.constant("nul" as const), at: fc.nat() }),
  fc.constant({ kind: "crlf" as const }),
  fc.constant({ kind: "empty" as const }),
  fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ maxLength: 512 }) }),
  fc.constant({ kind: "huge-numbers" as const }),
);

function apply(bytes: Buffer, d: Damage): Buffer {
  switch (d.kind) {
    case "flip": {
      if (bytes.length === 0) return bytes;
      const b = Buffer.from(bytes);
      b[d.at % b.length] = d.byte;
      return b;
    }
    case "truncate":
      return bytes.subarray(0, bytes.length === 0 ? 0 : d.at % bytes.length);
    case "utf16":
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(bytes.toString("latin1"), "utf16le")]);
    case "nul": {
      const at = bytes.length === 0 ? 0 : d.at % bytes.length;
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([0]), bytes.subarray(at)]);
    }
    case "crlf":
      return Buffer.from(bytes.toString("latin1").replace(/\n/g, "\r\n"), "latin1");
    case "empty":
      return Buffer.alloc(0);
    case "garbage":
      return Buffer.from(d.bytes);
    case "huge-numbers":
      return Buffer.from(bytes.toString("latin1").replace(/\d+/g, "99999999999999999999999999"), "latin1");
  }
}

function corruptedCopy(machine: string, damages: { file: number; damage: Damage }[]): string {
  const dir = mkdtempSync(join(tmpdir(), "cs-fuzz-"));
  cpSync(machineRoot(machine), dir, { recursive: true });
  const files = filesUnder(dir).filter((f) => statSync(join(dir, f)).size < 4 * 1024 * 1024);
  for (const { file, damage: d } of damages) {
    if (files.length === 0) break;
    const path = join(dir, files[file % files.length] as string);
    writeFileSync(path, apply(readFileSync(path), d));
  }
  return dir;
}

describe.skipIf(!HAVE_FIXTURES)("probing randomly corrupted copies of real snapshots", () => {
  const machines = fixtureMachines();
  const arbitraryCase = fc.record({
    machine: fc.constantFrom(...(machines.length ? machines : ["none"])),
    damages: fc.array(fc.record({ file: fc.nat(), damage }), { minLength: 1, maxLength: 6 }),
  });

  it("the library never throws and every unknown has a reason", () => {
    fc.assert(
      fc.property(arbitraryCase, ({ machine, damages }) => {
        const root = corruptedCopy(machine, damages);
        const c = createClockContainer({ sysroot: root, env: {} });
        registerBundledBackends(c);
        const report = buildProbeReport(c.resolve(ClockSelector).rank(), { root, live: false });
        expect(report.facts.filter((f) => f.name.startsWith("probe."))).toEqual([]);
        for (const f of report.facts) if (f.confidence === "unknown") expect(f.reason).toBeTruthy();
        expect(report.selected).not.toBeNull();
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
  });

  it("the CLI exits 0 with a report, or 2 with one line — never a stack trace", () => {
    fc.assert(
      fc.property(arbitraryCase, ({ machine, damages }) => {
        const r = runCli(["probe", "--json", "--sysroot", corruptedCopy(machine, damages)]);
        if (r.status === 0) {
          expect(JSON.parse(r.stdout).schema).toBe("clocksource.probe/v1");
        } else {
          expect(r.status).toBe(2);
          expect(r.stderr.split("\n").length).toBe(2);
        }
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }),
      { numRuns: Number(process.env.FUZZ_CLI_RUNS ?? 12) },
    );
  });
});
