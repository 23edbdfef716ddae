/**
 * Regenerates the committed trace.dat fixtures (see test/support/trace-dat-fixtures.ts).
 * Runs only when asked (CLOCKSOURCE_REGEN_TRACE_DAT=1): the files are committed
 * so that every other test reads the same bytes everywhere.
 */
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, fixtureFile } from "./support/trace-dat-fixtures.js";
import { recordTraceDat, traceCmdReport, tracefsRecordSupport } from "./support/tracefs-record.js";

const asked = process.env.CLOCKSOURCE_REGEN_TRACE_DAT === "1";
const support = tracefsRecordSupport("x86-tsc");
if (!asked) console.log("trace-dat.fixtures: skipped (set CLOCKSOURCE_REGEN_TRACE_DAT=1 to re-record the committed trace.dat files)");
else if (!support.ok) console.log(`trace-dat.fixtures: skipped: ${support.reason}`);

describe.skipIf(!asked || !support.ok)("committed trace.dat fixtures", () => {
  for (const f of FIXTURES) {
    it(`re-records ${f.base}`, () => {
      const dir = mkdtempSync(join(tmpdir(), "clocksource-fixture-"));
      try {
        const rec = recordTraceDat(dir, f.base, f.options);
        const made = { v6: rec.v6, "v7-zstd": rec.v7zstd, "v7-none": rec.v7none } as const;
        for (const kind of ["v6", "v7-zstd", "v7-none"] as const) {
          if (!f.keep.includes(kind)) {
            unlinkSync(made[kind]);
            continue;
          }
          const dest = fixtureFile(f.base, kind);
          renameSync(made[kind], dest);
          writeFileSync(`${dest}.report.txt`, traceCmdReport(dest));
        }
        expect(rec.buffers.length).toBe(f.options.buffers ?? 1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }
});
