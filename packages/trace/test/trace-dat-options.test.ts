/**
 * Time-related and other options: TIME_SHIFT (with the per-CPU fraction-bits
 * block the man page leaves out), GUEST, TSC2NSEC, BUFFER_TEXT, an unknown
 * option, and an options section reached through a DONE link. They are added
 * to a recorded file (no guest can be traced on this machine), and trace-cmd
 * reads the same values from the same bytes where it is installed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readAll } from "./support/report-compare.js";
import { appendOptionsV7, LeWriter } from "./support/trace-dat-inject.js";
import { fixtureFile } from "./support/trace-dat-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "clocksource-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const haveTraceCmd = !spawnSync("trace-cmd", ["--version"]).error;
if (!haveTraceCmd) console.log("trace-dat-options: the cross-check with trace-cmd dump --options is skipped: trace-cmd is not installed");

const timeShift = new LeWriter()
  .u64(0x1122334455667788n)
  .u32(1) // flags: interpolate
  .u32(2) // CPUs
  .u32(2)
  .u64(1000)
  .u64(2000)
  .u64(-5)
  .u64(-7)
  .u64(1n << 48n)
  .u64((1n << 48n) + 3n)
  .u32(1)
  .u64(1500)
  .u64(123456789)
  .u64(1n << 32n)
  // The fraction-bits block: per CPU, one u64 per sample.
  .u64(48)
  .u64(48)
  .u64(32)
  .done();
const guest = new LeWriter().str("guest1").u64(0xabcdefn).u32(2).u32(0).u32(4242).u32(1).u32(4243).done();
const tsc2nsec = new LeWriter().u32(4194304).u32(22).u64(77).done();
const latency = new LeWriter().u64(0).str("lat").str("local").done();

describe("trace.dat options", () => {
  const src = fixtureFile("marker-mono", "v7-zstd");
  const path = join(dir, "with-options.dat");
  writeFileSync(
    path,
    appendOptionsV7(readFileSync(src), [
      { id: 12, payload: timeShift },
      { id: 13, payload: guest },
      { id: 14, payload: tsc2nsec },
      { id: 22, payload: latency },
      { id: 999, payload: new TextEncoder().encode("hello") },
    ]),
  );

  it("reads TIME_SHIFT with its fractions, GUEST and TSC2NSEC from a linked options section; the events are unchanged", async () => {
    const r = await readAll(path);
    expect(r.info.timeRecords.timeShift).toEqual({
      peerTraceId: 0x1122334455667788n,
      flags: 1,
      cpus: [
        { times: [1000n, 2000n], offsets: [-5n, -7n], scalings: [1n << 48n, (1n << 48n) + 3n], fractions: [48, 48] },
        { times: [1500n], offsets: [123456789n], scalings: [1n << 32n], fractions: [32] },
      ],
    });
    expect(r.info.timeRecords.guests).toEqual([{ name: "guest1", traceId: 0xabcdefn, vcpuThreads: [{ vcpu: 0, tid: 4242 }, { vcpu: 1, tid: 4243 }] }]);
    expect(r.info.timeRecords.tsc2nsec).toEqual({ mult: 4194304, shift: 22, offset: 77n });
    expect(r.info.warnings).toContainEqual(expect.stringMatching(/offset 0x[0-9a-f]+: unknown option 999 \(5 bytes\) skipped$/));
    expect(r.info.warnings).toContainEqual(expect.stringMatching(/buffer "lat" holds latency-tracer text, not binary events; it is not read/));
    expect(r.info.buffers.map((b) => b.name)).toContain("lat");
    const plain = await readAll(src);
    expect(r.events).toEqual(plain.events);
  });

  it.skipIf(!haveTraceCmd)("trace-cmd reads the same values from the same bytes", () => {
    const out = spawnSync("trace-cmd", ["dump", "--options", path], { encoding: "utf8" });
    const text = `${out.stdout}${out.stderr}`;
    expect(text).toMatch(/0x1122334455667788 \[peer's trace id\]/);
    expect(text).toMatch(/-5 281474976710656 48 1000\[offset \* scaling >> fraction @ time\]/);
    expect(text).toMatch(/-7 281474976710659 48 2000/);
    expect(text).toMatch(/123456789 4294967296 32 1500/);
    expect(text).toMatch(/ {2}1 4243 \[guest cpu, host pid\]/);
    expect(text).toMatch(/4194304 22 77 \[multiplier, shift, offset\]/);
  });

  it("a TIME_SHIFT without the fraction block has fractions 0; a truncated one is a warning, not a failure", async () => {
    const noFrac = timeShift.subarray(0, timeShift.length - 24);
    const p1 = join(dir, "nofrac.dat");
    writeFileSync(p1, appendOptionsV7(readFileSync(src), [{ id: 12, payload: noFrac }]));
    const a = await readAll(p1);
    expect(a.info.timeRecords.timeShift?.cpus.map((c) => c.fractions)).toEqual([[0, 0], [0]]);
    const p2 = join(dir, "cut.dat");
    writeFileSync(p2, appendOptionsV7(readFileSync(src), [{ id: 12, payload: timeShift.subarray(0, 40) }, { id: 14, payload: tsc2nsec.subarray(0, 10) }]));
    const b = await readAll(p2);
    expect(b.info.timeRecords.timeShift).toBeUndefined();
    expect(b.info.timeRecords.tsc2nsec).toBeUndefined();
    expect(b.info.warnings.filter((w) => /option 1[24] \(\d+ bytes\) is malformed and was skipped/.test(w))).toHaveLength(2);
    expect(b.events.length).toBe(a.events.length);
  });

  it("TSC2NSEC in a v6 file (the options block of the header)", async () => {
    const v6 = Buffer.from(readFileSync(fixtureFile("marker-mono", "v6")));
    // Replace the UNAME option (id 5) in place by a TSC2NSEC of the same size.
    let p = v6.indexOf("options  \0") + 10;
    let found = false;
    while (v6.readUInt16LE(p) !== 0) {
      const len = v6.readUInt32LE(p + 2);
      if (v6.readUInt16LE(p) === 5 && len >= 16) {
        v6.writeUInt16LE(14, p);
        v6.fill(0, p + 6, p + 6 + len);
        Buffer.from(tsc2nsec).copy(v6, p + 6);
        found = true;
        break;
      }
      p += 6 + len;
    }
    expect(found).toBe(true);
    const out = join(dir, "v6-tsc2nsec.dat");
    writeFileSync(out, v6);
    const r = await readAll(out);
    expect(r.info.timeRecords.tsc2nsec).toEqual({ mult: 4194304, shift: 22, offset: 77n });
    expect(r.info.clock).toEqual({ name: "mono", unit: "ns", source: "trace_clock after the CPU offsets" });
  });
});
