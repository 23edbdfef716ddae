import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
  made.push(dir);
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

  it("the library never throws and every unknown has a reason", { timeout: 600_000 }, () => {
    fc.assert(
      fc.property(arbitraryCase, ({ machine, damages }) => {
        const root = corruptedCopy(machine, damages);
        const c = createClockContainer({ sysroot: root, env: {} });
        registerBundledBackends(c);
        const report = buildProbeReport(c.resolve(ClockSelector).rank(), { root, live: false });
        expect(report.facts.filter((f) => f.name.startsWith("probe."))).toEqual([]);
        for (const f of report.facts) if (f.confidence === "unknown") expect(f.reason).toBeTruthy();
        expect(report.selected).not.toBeNull();
        rmSync(root, { recursive: true, force: true });
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
  });

  it("the CLI exits 0 with a report, or fails with one line — never a stack trace", { timeout: 600_000 }, () => {
    fc.assert(
      fc.property(arbitraryCase, ({ machine, damages }) => {
        const root = corruptedCopy(machine, damages);
        const r = runCli(["probe", "--json", "--sysroot", root]);
        rmSync(root, { recursive: true, force: true });
        if (r.status === 0) {
          expect(JSON.parse(r.stdout).schema).toBe("clocksource.probe/v1");
        } else {
          expect([1, 2]).toContain(r.status);
          expect(r.stderr.split("\n").length).toBe(2);
        }
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }),
      { numRuns: Number(process.env.FUZZ_CLI_RUNS ?? 12) },
    );
  });
});

/**
 * Hostile entries planted in a copy of a real snapshot: links out of the root
 * (absolute, relative, through a directory), links inside it, loops, links to
 * an ancestor directory, FIFOs, device nodes (as root) and oversized files.
 */
type Hostile =
  | { kind: "link-out"; at: number; absolute: boolean }
  | { kind: "link-in"; at: number; to: number; absolute: boolean }
  | { kind: "loop"; at: number }
  | { kind: "dir-up"; at: number; absolute: boolean }
  | { kind: "fifo"; at: number }
  | { kind: "device"; at: number }
  | { kind: "oversized"; at: number; size: number };

const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn("fuzzing snapshots without device nodes: mknod needs root");

const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({ kind: fc.constant("link-out" as const), at: fc.nat(), absolute: fc.boolean() }),
  fc.record({ kind: fc.constant("link-in" as const), at: fc.nat(), to: fc.nat(), absolute: fc.boolean() }),
  fc.record({ kind: fc.constant("loop" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("dir-up" as const), at: fc.nat(), absolute: fc.boolean() }),
  fc.record({ kind: fc.constant("fifo" as const), at: fc.nat() }),
  ...(IS_ROOT ? [fc.record({ kind: fc.constant("device" as const), at: fc.nat() })] : []),
  // Just over the caps: a DMI field (4 KiB), a device-tree property (64 KiB), a snapshot file (4 MiB), any read (16 MiB).
  fc.record({ kind: fc.constant("oversized" as const), at: fc.nat(), size: fc.constantFrom(4097, 65_537, 4 * 1024 * 1024 + 1, 16 * 1024 * 1024 + 1) }),
);

/** Paths every probe reads, so that the hostile entries hit them often. */
const HOT_PATHS = ["proc/cpuinfo", "var/log/dmesg", "dev/cpu/0/cpuid", "sys/devices/system/clocksource/clocksource0/current_clocksource", "sys/firmware/devicetree/base/timer/compatible", "dev/kvm"];

const SECRET = `FUZZ-SECRET-${process.pid}`;
const made: string[] = [];
const watchdogs: ChildProcess[] = [];
afterAll(() => {
  for (const w of watchdogs) w.kill("SIGKILL");
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

let outsideDir: string | undefined;
/** A directory outside every root holding the secret, once per run. */
function outside(): string {
  if (!outsideDir) {
    outsideDir = mkdtempSync(join(tmpdir(), "cs-fuzz-outside-"));
    made.push(outsideDir);
    writeFileSync(join(outsideDir, "secret"), `${SECRET}\nvendor_id : ${SECRET}\n`);
  }
  return outsideDir;
}

function replaceWith(root: string, rel: string, make: (abs: string) => void): void {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  rmSync(abs, { recursive: true, force: true });
  make(abs);
}

/**
 * A copy of a real snapshot with hostile entries. Each FIFO gets a watchdog
 * writer that, after `releaseAfterS`, releases a reader blocked on it with the
 * secret: a regression then fails its case (the secret shows, or the CLI's
 * time limit passes first) instead of hanging the run.
 */
function hostileCopy(machine: string, entries: Hostile[], releaseAfterS: number): string {
  const dir = mkdtempSync(join(tmpdir(), "cs-fuzz-h-"));
  made.push(dir);
  cpSync(machineRoot(machine), dir, { recursive: true });
  const paths = [...HOT_PATHS, ...filesUnder(dir)];
  const pick = (n: number) => paths[n % paths.length] as string;
  for (const h of entries) {
    const rel = pick(h.at);
    switch (h.kind) {
      case "link-out": {
        const target = h.absolute ? join(outside(), "secret") : relative(dirname(join(dir, rel)), join(outside(), "secret"));
        replaceWith(dir, rel, (abs) => symlinkSync(target, abs));
        break;
      }
      case "link-in": {
        const to = pick(h.to);
        replaceWith(dir, rel, (abs) => symlinkSync(h.absolute ? `/${to}` : relative(dirname(abs), join(dir, to)) || ".", abs));
        break;
      }
      case "loop":
        replaceWith(dir, rel, (abs) => symlinkSync(`/${rel}`, abs));
        break;
      case "dir-up":
        replaceWith(dir, rel, (abs) => symlinkSync(h.absolute ? "/" : "..", abs));
        break;
      case "fifo":
        replaceWith(dir, rel, (abs) => {
          expect(spawnSync("mkfifo", [abs]).status).toBe(0);
          watchdogs.push(spawn("sh", ["-c", 'sleep "$2"; printf "vendor_id : %s\\nHypervisor detected: %s\\n" "$3" "$3" > "$1"', "sh", abs, String(releaseAfterS), SECRET], { stdio: "ignore" }));
        });
        break;
      case "device":
        replaceWith(dir, rel, (abs) => expect(spawnSync("mknod", [abs, "c", "1", "5"]).status).toBe(0));
        break;
      case "oversized": {
        const abs = join(dir, rel);
        let base = 0;
        try {
          const st = lstatSync(abs);
          if (!st.isFile()) break;
          base = st.size;
        } catch {
          mkdirSync(dirname(abs), { recursive: true });
          writeFileSync(abs, "");
        }
        // Sparse: the bytes read are zeros, the disk holds nothing.
        truncateSync(abs, Math.max(base, h.size));
        break;
      }
    }
  }
  return dir;
}

/** Files and links of a tree, relative; a snapshot must hold only regular files and directories. */
function oddEntries(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...oddEntries(dir, rel));
    else if (!e.isFile()) out.push(rel);
    else if (readFileSync(join(dir, rel), "latin1").includes(SECRET)) out.push(`${rel} (holds the secret)`);
  }
  return out;
}

/** A hung run is stopped here and fails its case. */
const CASE_LIMIT_MS = 60_000;

describe.skipIf(!HAVE_FIXTURES)("probing and snapshotting real snapshots with links, FIFOs, devices and oversized files", () => {
  const machines = fixtureMachines();
  const arbitraryCase = fc.record({
    machine: fc.constantFrom(...(machines.length ? machines : ["none"])),
    entries: fc.array(hostile, { minLength: 1, maxLength: 5 }),
  });

  it("the library never throws, never reads outside the root, and names every cut", { timeout: 600_000 }, () => {
    fc.assert(
      fc.property(arbitraryCase, ({ machine, entries }) => {
        const root = hostileCopy(machine, entries, 20);
        const c = createClockContainer({ sysroot: root, env: {} });
        registerBundledBackends(c);
        const report = buildProbeReport(c.resolve(ClockSelector).rank(), { root, live: false });
        expect(report.facts.filter((f) => f.name.startsWith("probe."))).toEqual([]);
        for (const f of report.facts) if (f.confidence === "unknown") expect(f.reason).toBeTruthy();
        expect(JSON.stringify(report)).not.toContain(SECRET);
        for (const f of report.facts.filter((x) => x.name === "input.truncated")) expect(f.reason).toMatch(/^read only the first \d+ (bytes|entries)/);
        rmSync(root, { recursive: true, force: true });
      }),
      { numRuns: Number(process.env.FUZZ_HOSTILE_RUNS ?? 25) },
    );
  });

  it("probe --sysroot and snapshot --from finish in time; the snapshot holds only regular files without the secret", { timeout: 900_000 }, () => {
    fc.assert(
      fc.property(arbitraryCase, ({ machine, entries }) => {
        // Released only after the CLI's time limit: a run blocked on a FIFO is stopped and fails.
        const root = hostileCopy(machine, entries, CASE_LIMIT_MS / 1000 + 30);
        const p = runCli(["probe", "--json", "--sysroot", root], { timeoutMs: CASE_LIMIT_MS });
        expect(p.status, `probe: ${p.stderr}`).toBe(0);
        expect(p.stdout).not.toContain(SECRET);
        const out = join(mkdtempSync(join(tmpdir(), "cs-fuzz-snap-")), "out");
        made.push(dirname(out));
        const s = runCli(["snapshot", out, "--from", root], { timeoutMs: CASE_LIMIT_MS });
        expect(s.status, `snapshot: ${s.stderr}`).toBe(0);
        expect(s.stderr).toBe("");
        expect(oddEntries(out)).toEqual([]);
        const again = runCli(["probe", "--json", "--sysroot", out], { timeoutMs: CASE_LIMIT_MS });
        expect(again.status).toBe(0);
        rmSync(root, { recursive: true, force: true });
      }),
      { numRuns: Number(process.env.FUZZ_HOSTILE_CLI_RUNS ?? 6) },
    );
  });
});
