/**
 * `clocksource merge` as a subprocess: the formats, the summary, and bad input
 * (a mapping for another VM, an unreachable clock, an empty or truncated trace,
 * an unknown input name) giving one line, the project's exit code, and nothing
 * half-written at -o.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildMappingFile, serializeMappingFile } from "@clocksource/core";
import { kvmTscCodec } from "@clocksource/x86";
import { runCli } from "../../../test/support/run-cli.js";

const DATA = join(import.meta.dirname, "..", "..", "trace", "test", "data");
const HOST = join(DATA, "sched-x86tsc-v7-zstd.dat");
const GUEST = join(DATA, "sched-x86tsc-v6.dat");
const tmp = mkdtempSync(join(tmpdir(), "merge-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function kvmMapping(vcpus: number[], offset: bigint): string {
  const file = buildMappingFile(kvmTscCodec, {
    from: "guest.tsc",
    to: "host.tsc",
    producer: "test",
    epochs: [{ observedAt: "2026-12-02T00:00:00.000Z", vcpus: new Map(vcpus.map((v) => [v, { offset, ratio: 1n << 48n, fracBits: 48 }])) }],
  });
  const path = join(tmp, `mapping-${vcpus.join("-")}-${offset}.json`);
  writeFileSync(path, serializeMappingFile(file));
  return path;
}

/** The files in tmp other than inputs: what a failed run left behind. */
function leftovers(prefix: string): string[] {
  return readdirSync(tmp).filter((f) => f.includes(prefix));
}

describe("clocksource merge", () => {
  it("merges with a KVM mapping file into text, JSON lines, Chrome JSON and Perfetto, with a summary", () => {
    // guest = host − 1000 (unscaled): the guest's events land 1000 ticks later on the host's TSC.
    const mapping = kvmMapping([0, 1], -1000n);
    const text = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--mapping", `vm1=${mapping}`, "--format", "text"]);
    expect(text.status, text.stderr).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines.some((l) => l.startsWith("host:"))).toBe(true);
    expect(lines.some((l) => l.startsWith(" vm1:"))).toBe(true);
    expect(text.stderr).toMatch(/^merge: \d+ events onto host\.tsc$/m);
    expect(text.stderr).toMatch(/vm1: \d+ events; largest uncertainty 0 \(exact\)/);
    expect(text.stderr).toMatch(/route vm1.*vm1\.tsc → host\.tsc: .*mapping-0-1--1000\.json \(kvm-x86-tsc, 1 epoch, vCPUs 0,1\)/);

    const jsonl = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--mapping", `vm1=${mapping}`, "-f", "jsonl"]);
    expect(jsonl.status, jsonl.stderr).toBe(0);
    const events = jsonl.stdout.trim().split("\n").map((l) => JSON.parse(l) as { machine: string; ts: string; raw_ts: string; uncertainty_ns: string });
    for (const e of events) expect(BigInt(e.ts) - BigInt(e.raw_ts)).toBe(e.machine === "vm1" ? 1000n : 0n);
    for (let i = 1; i < events.length; i++) expect(BigInt((events[i] as { ts: string }).ts) >= BigInt((events[i - 1] as { ts: string }).ts)).toBe(true);
    expect(events.every((e) => e.uncertainty_ns === "0")).toBe(true);

    const chrome = join(tmp, "merged.json");
    const c = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--mapping", `vm1=${mapping}`, "--target-hz", "2500000000", "-o", chrome]);
    expect(c.status, c.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(chrome, "utf8")) as { traceEvents: { ph: string; ts?: string; args: Record<string, unknown> }[] };
    const instants = doc.traceEvents.filter((e) => e.ph === "i");
    expect(instants).toHaveLength(events.length);
    // ts: exact µs decimal strings of ticks × 10^9 / 2.5e9.
    instants.forEach((e, i) => {
      const ns = (BigInt((events[i] as { ts: string }).ts) * 1_000_000_000n) / 2_500_000_000n;
      expect(e.ts).toBe(ns % 1000n === 0n ? `${ns / 1000n}` : `${ns / 1000n}.${String(ns % 1000n).padStart(3, "0")}`);
    });

    const pf = join(tmp, "merged.pftrace");
    const p = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--mapping", `vm1=${mapping}`, "--target-hz", "2500000000", "-o", pf]);
    expect(p.status, p.stderr).toBe(0);
    expect(readFileSync(pf).subarray(0, 1)[0]).toBe(0x0a); // Trace.packet (field 1, length-delimited)
  });

  it("needs --target-hz for nanosecond formats when the target counts ticks", () => {
    const r = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--offset", "vm1=5", "-o", join(tmp, "needs-hz.pftrace")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^clocksource: merge: the target host\.tsc counts ticks; perfetto needs nanoseconds: give --target-hz/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(leftovers("needs-hz")).toEqual([]);
  });

  it("refuses a mapping for another VM (vCPUs that do not match) in one line, leaving nothing at -o", () => {
    const other = kvmMapping([5, 6], -1000n);
    const out = join(tmp, "other-vm.jsonl");
    const r = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--mapping", `vm1=${other}`, "-f", "jsonl", "-o", out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no parameters for vCPU [01] \(the file has vCPUs 5, 6\): is it the mapping of another VM\?/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(leftovers("other-vm")).toEqual([]);
  });

  it("says which clock cannot reach the target", () => {
    const r = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, "--tsc-offset-events", "ignore"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no mapping leads from vm1\.tsc to host\.tsc \(nothing maps vm1\.tsc anywhere\)/);
  });

  it("rejects an empty file and a truncated trace in one line, keeping an existing -o as it was", () => {
    const empty = join(tmp, "empty.dat");
    writeFileSync(empty, "");
    const keep = join(tmp, "keep.txt");
    writeFileSync(keep, "old content\n");
    const e = runCli(["merge", `host=${HOST}`, `vm1=${empty}`, "--offset", "vm1=0", "-o", keep]);
    expect(e.status).not.toBe(0);
    expect(e.stderr.trim().split("\n")).toHaveLength(1);
    expect(readFileSync(keep, "utf8")).toBe("old content\n");

    const cut = join(tmp, "cut.dat");
    copyFileSync(GUEST, cut);
    const bytes = readFileSync(cut);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    // --strict: a damaged input fails the merge, in one line, and -o keeps what it had.
    const t = runCli(["merge", `host=${HOST}`, `vm1=${cut}`, "--offset", "vm1=0", "--strict", "-o", keep]);
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(/^clocksource: merge: \d+ reader warning\(s\) and --strict; the first: vm1: .*cut\.dat: offset 0x[0-9a-f]+: .*truncated/);
    expect(t.stderr.trim().split("\n")).toHaveLength(1);
    expect(readFileSync(keep, "utf8")).toBe("old content\n");
    expect(leftovers("keep.txt.")).toEqual([]);
    // Without it, what can be read is merged and the damage is listed in the summary, never silently.
    const k = runCli(["merge", `host=${HOST}`, `vm1=${cut}`, "--offset", "vm1=0", "-o", join(tmp, "kept-going.txt")]);
    expect(k.status, k.stderr).toBe(0);
    expect(k.stderr).toMatch(/warnings from vm1: \d+\n.*cut\.dat: offset 0x[0-9a-f]+: .*truncated/);
  });

  it("rejects options naming inputs that do not exist, and bad values, as usage errors", () => {
    for (const args of [["--offset", "vm2=5"], ["--mapping", "vm2=x.json"], ["--offset", "vm1=abc"], ["--format", "svg"], ["--tsc-offset-events", "maybe"], ["--target-hz", "0"]]) {
      const r = runCli(["merge", `host=${HOST}`, `vm1=${GUEST}`, ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(runCli(["merge"]).status).toBe(2);
  });
});
