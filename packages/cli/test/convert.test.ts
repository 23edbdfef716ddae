import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildMappingFile, serializeMappingFile } from "@clocksource/core";
import { kvmTscCodec, type KvmTscParams } from "@clocksource/x86";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";
import { loadMappingKinds, MAPPING_KIND_TABLE } from "../src/mapping-kind-table.js";
import { mappingKinds } from "../src/mapping-kinds.js";

const tmp = mkdtempSync(join(tmpdir(), "convert-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const T0 = "2025-03-01T10:00:00.000Z";
const T1 = "2025-03-01T10:05:00.000Z";
const T2 = "2025-03-01T10:05:01.000Z";

const scaled: KvmTscParams = { offset: -987654321012345n, ratio: (1n << 48n) + 4_503_599_627n, fracBits: 48 };
const amd: KvmTscParams = { offset: 5_000_000_000n, ratio: (1n << 32n) - 12345n, fracBits: 32 };

function writeMapping(name: string, epochs: Parameters<typeof buildMappingFile<KvmTscParams>>[1]["epochs"]): string {
  const path = join(tmp, name);
  writeFileSync(path, serializeMappingFile(buildMappingFile(kvmTscCodec, { from: "guest.tsc", to: "host.tsc", producer: "test", createdAt: T0, epochs })));
  return path;
}

const single = writeMapping("single.json", [{ observedAt: T0, vcpus: new Map([[0, scaled], [1, scaled]]) }]);
const perVcpu = writeMapping("per-vcpu.json", [{ observedAt: T0, vcpus: new Map([[0, scaled], [1, amd]]) }]);
// Two epochs: the guest TSC jumped ahead at a resume; [1000e9, 1001e9) is the switch window.
const e0: KvmTscParams = { offset: -1_000_000_000n, ratio: 1n << 48n, fracBits: 48 };
const e1: KvmTscParams = { offset: 9_000_000_000n, ratio: 1n << 48n, fracBits: 48 };
const twoEpochs = writeMapping("two-epochs.json", [
  { observedAt: T0, lastObservedAt: T1, validUntil: 1_001_000_000_000n, params: e0 },
  { observedAt: T2, validFrom: 1_000_000_000_000n, boundary: { notBefore: T1, notAfter: T2, sourceFrom: 1_000_000_000_000n, sourceUntil: 1_001_000_000_000n }, params: e1 },
]);

// The KVM TSC maps written out here, independently of @clocksource/x86, from their definitions:
// forward h → g = ((h × ratio) >> frac) + offset mod 2^64; with u(g) = (g − offset) mod 2^64 and
// S(h) = floor(h × ratio / 2^frac), inverse g → the smallest h < 2^64 with S(h) ≥ u(g),
// i.e. ceil(u × 2^frac / ratio), or none when that is 2^64 or more.
const M64 = 1n << 64n;
const mod64 = (x: bigint) => ((x % M64) + M64) % M64;
const forwardRef = (h: bigint, p: KvmTscParams) => mod64(((h * p.ratio) >> BigInt(p.fracBits)) + p.offset);
function inverseRef(g: bigint, p: KvmTscParams): bigint | null {
  const u = mod64(g - p.offset);
  const h = (u * (1n << BigInt(p.fracBits)) + p.ratio - 1n) / p.ratio;
  return h < M64 ? h : null;
}
const inv = (g: bigint, p: KvmTscParams) => {
  const h = inverseRef(g, p);
  if (h === null) throw new Error(`test bug: ${g} has no host tick`);
  return h;
};

const U64_MAX = M64 - 1n;
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  // around the offset (u = 0), and around the last guest value a host tick reaches
  fc.constantFrom(0n, 1n, U64_MAX, mod64(scaled.offset), mod64(scaled.offset - 1n), forwardRef(U64_MAX, scaled), mod64(forwardRef(U64_MAX, scaled) + 1n)),
);

describe("mapping kinds", () => {
  it("the lazy table (convert) and the registry (agent, sync, merge) list the same kinds and codecs", async () => {
    const eager = mappingKinds();
    expect(Object.keys(MAPPING_KIND_TABLE).sort()).toEqual([...eager.keys()].sort());
    const lazy = await loadMappingKinds(Object.keys(MAPPING_KIND_TABLE));
    for (const [kind, codec] of eager) expect(lazy.get(kind), kind).toBe(codec);
    expect([...(await loadMappingKinds(["kvm-x86-tsc"])).keys()]).toEqual(["kvm-x86-tsc"]);
  });
});

describe("clocksource convert (subprocess)", () => {
  it("the reference formulas are the definitions (minimal inverse, forward lands at or past g)", () => {
    fc.assert(
      fc.property(u64, fc.constantFrom(scaled, amd), (g, p) => {
        const h = inverseRef(g, p);
        const u = mod64(g - p.offset);
        const S = (x: bigint) => (x * p.ratio) >> BigInt(p.fracBits);
        if (h === null) return S(U64_MAX) < u;
        return S(h) >= u && (h === 0n || S(h - 1n) < u) && mod64(forwardRef(h, p) - p.offset) >= u;
      }),
      { numRuns: 5000 },
    );
  });

  it("guest → host exactly (decimal and 0x-hex in, decimal out), and --reverse host → guest", () => {
    // Each run converts a batch in one subprocess, so a failure shrinks to a small batch and prints its seed.
    fc.assert(
      fc.property(fc.array(fc.tuple(u64, fc.boolean()), { minLength: 1, maxLength: 300 }), (batch) => {
        const lines = batch.map(([v, hex]) => (hex ? `0x${v.toString(16)}` : v.toString()));
        const r = runCli(["convert", "--mapping", single, "--skip-invalid"], { input: lines.join("\n") + "\n" });
        expect(r.status).toBe(0);
        const hosts = batch.map(([g]) => inverseRef(g, scaled));
        // A guest value no host tick below 2^64 reaches cannot be converted: passed through and counted.
        expect(r.stdout).toBe(hosts.map((h, i) => `${h ?? lines[i]}\n`).join(""));
        const bad = hosts.map((h, i) => (h === null ? i + 1 : 0)).filter((n) => n > 0);
        expect(r.stderr).toBe(bad.length === 0 ? "" : `convert: passed ${bad.length} invalid line(s) through unchanged (first: line ${bad[0]})\n`);
        const converted = hosts.filter((h): h is bigint => h !== null);
        if (converted.length === 0) return;
        const back = runCli(["convert", "--mapping", single, "--reverse"], { input: converted.map((h) => `${h}\n`).join("") });
        expect(back.stderr).toBe("");
        expect(back.status).toBe(0);
        expect(back.stdout).toBe(converted.map((h) => `${forwardRef(h, scaled)}\n`).join(""));
      }),
      { numRuns: 12 },
    );
  }, 180_000);

  it("invalid lines: line-numbered error and exit 1 (bad input, not a bad command line), or --skip-invalid passes them through and counts", () => {
    const input = "1000000000000000\n12abc\n\n18446744073709551616\n-5\n42\n";
    const r = runCli(["convert", "--mapping", single], { input });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('clocksource: line 2: guest.tsc value is not an unsigned 64-bit integer: "12abc"\n');
    expect(r.stdout).toBe(`${inv(1000000000000000n, scaled)}\n`);
    const s = runCli(["convert", "--mapping", single, "--skip-invalid"], { input });
    expect(s.status).toBe(0);
    expect(s.stdout).toBe(`${inv(1000000000000000n, scaled)}\n12abc\n\n18446744073709551616\n-5\n${inv(42n, scaled)}\n`);
    expect(s.stderr).toBe("convert: passed 4 invalid line(s) through unchanged (first: line 2)\n");
  });

  it("--jsonl-field rewrites only that top-level field, keeping its JSON type and the rest of the line", () => {
    const g = 123_456_789_012_345_678n;
    const h = inv(g, scaled);
    const lines = [
      `{"ts":"${g}","event":"irq","nested":{"ts":"1"}}`,
      `{ "cpu" : 3 ,  "ts" : 4503599627370495 , "args":[1,"ts",{"ts":2}] }`,
      `{"a":"x\\"ts\\":1","ts":"${g}"}`,
    ];
    const r = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: lines.join("\n") + "\n" });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual([
      `{"ts":"${h}","event":"irq","nested":{"ts":"1"}}`,
      `{ "cpu" : 3 ,  "ts" : ${inv(4503599627370495n, scaled)} , "args":[1,"ts",{"ts":2}] }`,
      `{"a":"x\\"ts\\":1","ts":"${h}"}`,
      "",
    ]);
    const bad = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: `{"ts":"1"}\n{"ts":1.5}\n` });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^clocksource: line 2: field "ts" is not a u64/);
    const missing = runCli(["convert", "--mapping", single, "--jsonl-field", "time"], { input: `{"ts":"1"}\n` });
    expect(missing.stderr).toMatch(/line 1: no field "time"/);
  });

  it("--jsonl-field reads the field's own text exactly: numbers above 2^53, no float rounding", () => {
    const big = [(1n << 53n) + 1n, U64_MAX - 12345n, 98_765_432_109_876_543n];
    const input = big.map((g) => `{"ts":${g},"s":"${g}"}`).join("\n") + "\n";
    const r = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(big.map((g) => `{"ts":${inv(g, scaled)},"s":"${g}"}\n`).join(""));
    const s = runCli(["convert", "--mapping", single, "--jsonl-field", "s"], { input });
    expect(s.stdout).toBe(big.map((g) => `{"ts":${g},"s":"${inv(g, scaled)}"}\n`).join(""));
    // Text a float would round to an integer is not an integer.
    for (const bad of ["4.0000000000000001", "4.0", "4e3", "-0", "18446744073709551616", '"04"', '"18446744073709551616"', '"\\u0034"']) {
      const e = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: `{"ts":"1"}\n{"ts":${bad}}\n` });
      expect(e.status, bad).toBe(1);
      expect(e.stderr, bad).toMatch(/^clocksource: line 2: field "ts" is not a u64/);
      expect(e.stdout, bad).toBe(`{"ts":"${inv(1n, scaled)}"}\n`);
    }
  });

  it("--jsonl-field rejects a line that names the field twice (JSON.parse keeps the last, the text has both)", () => {
    for (const line of ['{"ts":1,"ts":2}', '{"ts":"1", "x":{"ts":3}, "ts" : "2"}', '{"t\\u0073":1,"ts":2}']) {
      const r = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: `{"ts":5}\n${line}\n` });
      expect(r.status, line).toBe(1);
      expect(r.stderr, line).toBe('clocksource: line 2: field "ts" appears 2 times\n');
      expect(r.stdout).toBe(`{"ts":${inv(5n, scaled)}}\n`);
    }
    // A duplicate only inside a nested object is not the top-level field's.
    const nested = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: '{"ts":7,"x":{"ts":1,"ts":2}}\n' });
    expect(nested.stdout).toBe(`{"ts":${inv(7n, scaled)},"x":{"ts":1,"ts":2}}\n`);
    // --skip-invalid passes it through unchanged, as any other invalid line.
    const skipped = runCli(["convert", "--mapping", single, "--jsonl-field", "ts", "--skip-invalid"], { input: '{"ts":1,"ts":2}\n' });
    expect(skipped.stdout).toBe('{"ts":1,"ts":2}\n');
  });

  it("--vcpu is needed only where vCPUs differ; --epoch forces an epoch", () => {
    const need = runCli(["convert", "--mapping", perVcpu], { input: "1\n" });
    expect(need.status).toBe(2);
    expect(need.stderr).toMatch(/vCPUs' parameters differ in epoch 0.*pass --vcpu N/);
    const v1 = runCli(["convert", "--mapping", perVcpu, "--vcpu", "1"], { input: "6000000000\n" });
    expect(v1.stdout).toBe(`${inv(6000000000n, amd)}\n`);
    expect(runCli(["convert", "--mapping", perVcpu, "--vcpu", "7"], { input: "1\n" }).stderr).toMatch(/no vCPU 7/);
    const forced = runCli(["convert", "--mapping", twoEpochs, "--epoch", "0"], { input: "5000000000000\n" });
    expect(forced.stdout).toBe("5001000000000\n");
  });

  it("picks each value's epoch from the value itself and counts values in the switch window", () => {
    // 999e9: epoch 0 only; 1000.5e9: both (switch window, later epoch wins); 2000e9: epoch 1 only
    const r = runCli(["convert", "--mapping", twoEpochs], { input: "999000000000\n1000500000000\n2000000000000\n" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("1000000000000\n991500000000\n1991000000000\n");
    expect(r.stderr).toBe("convert: 1 value(s) lay in an epoch switch window (or where the source clock went back); converted with the later epoch\n");
    const back = runCli(["convert", "--mapping", twoEpochs, "--reverse"], { input: "500000000000\n1991000000000\n" });
    expect(back.stdout).toBe("499000000000\n2000000000000\n");
  });

  it("bad mapping files: one line, exit 1; bad options: one line, exit 2", () => {
    const broken = join(tmp, "broken.json");
    writeFileSync(broken, JSON.stringify({ schema: "clocksource.mapping/v1", kind: "kvm-x86-tsc", from: "guest.tsc", to: "host.tsc", createdAt: T0, producer: "x", exact: true, errorBound: "0", epochs: [{ observedAt: T0, validFrom: null, validUntil: null, errorBound: "0", params: { tscOffset: "1", tscScalingRatio: 5, fracBits: 48 } }] }));
    const unknownKind = join(tmp, "unknown-kind.json");
    writeFileSync(unknownKind, readFileSync(single, "utf8").replace('"kvm-x86-tsc"', '"made-up-kind"'));
    const fifo = join(tmp, "fifo.json");
    spawnSync("mkfifo", [fifo]);
    const cases: [string[], RegExp, number][] = [
      [["--mapping", broken], /\$\.epochs\[0\]\.params\.tscScalingRatio: expected a u64 as a decimal string/, 1],
      [["--mapping", unknownKind], /unknown mapping kind "made-up-kind" \(known: kvm-x86-tsc, paravirt-estimate, arm-cntvoff/, 1],
      [["--mapping", join(tmp, "nope.json")], /cannot read mapping file .*nope\.json: not present/, 1],
      [["--mapping", fifo], /mapping file .*fifo\.json is a FIFO, not a regular file/, 1],
      [[], /--mapping FILE is required/, 2],
      [["--mapping", single, "--vcpu=-1"], /--vcpu must be a non-negative integer/, 2],
      [["--mapping", single, "--epoch", "3"], /no epoch 3/, 2],
      [["--mapping", single, "--max-line-bytes", "0"], /--max-line-bytes must be a positive integer/, 2],
    ];
    for (const [args, re, status] of cases) {
      const r = runCli(["convert", ...args], { input: "1\n", timeoutMs: 20_000 });
      expect(r.status, args.join(" ")).toBe(status);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("streams: output arrives before stdin is closed", async () => {
    const child = spawn(process.execPath, [CLI_BIN, "convert", "--mapping", single], { env: { PATH: process.env.PATH ?? "" }, stdio: ["pipe", "pipe", "pipe"] });
    const firstOutput = new Promise<string>((resolve) => child.stdout.once("data", (d) => resolve(String(d))));
    // enough lines to fill the output buffer several times over, then keep stdin open
    const chunk = Array.from({ length: 20000 }, (_, i) => String(1_000_000_000_000n + BigInt(i))).join("\n") + "\n";
    child.stdin.write(chunk);
    const got = await firstOutput;
    expect(got.startsWith(`${inv(1_000_000_000_000n, scaled)}\n`)).toBe(true);
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
  });
});

/** Runs convert with raw bytes on stdin and returns raw stdout. */
function runBytes(args: string[], input: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_BIN, "convert", ...args], { input, env: { PATH: process.env.PATH ?? "" }, maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Like runBytes, with stdin and stdout regular files (written by convert straight to the descriptor). */
function runFiles(args: string[], input: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const dir = mkdtempSync(join(tmp, "files-"));
  writeFileSync(join(dir, "in"), input);
  const i = openSync(join(dir, "in"), "r");
  const o = openSync(join(dir, "out"), "w");
  try {
    const r = spawnSync(process.execPath, [CLI_BIN, "convert", ...args], { stdio: [i, o, "pipe"], env: { PATH: process.env.PATH ?? "" }, timeout: 120_000 });
    return { status: r.status, stdout: readFileSync(join(dir, "out")), stderr: r.stderr.toString() };
  } finally {
    closeSync(i);
    closeSync(o);
  }
}

describe("clocksource convert: output to a regular file (written to the descriptor) is the output through a pipe", () => {
  it("the same bytes, messages and exit status: many pieces, an invalid line, skipped lines, an over-long line", () => {
    const many = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `${(BigInt(i) * 6_004_799_503_160_661n) % (1n << 56n)}\n`).join(""));
    const cases: [string[], Buffer][] = [
      [["--mapping", single, "--reverse"], many],
      [["--mapping", single], many],
      [["--mapping", single], Buffer.concat([many, Buffer.from("12x\n5\n")])],
      [["--mapping", single, "--skip-invalid"], Buffer.concat([Buffer.from("1\nx\r\n"), many, Buffer.from("0x10\n\n7")])],
      [["--mapping", single], Buffer.concat([Buffer.from("1\n2\n"), Buffer.alloc(2 * 1024 * 1024, 0x39), Buffer.from("\n5\n")])],
    ];
    for (const [args, input] of cases) {
      const piped = runBytes(args, input);
      const filed = runFiles(args, input);
      expect(filed.status).toBe(piped.status);
      expect(filed.stderr).toBe(piped.stderr);
      expect(filed.stdout.equals(piped.stdout)).toBe(true);
    }
  });
});

describe("clocksource convert: lines passed through unchanged are unchanged, byte for byte", () => {
  it("--skip-invalid passes invalid UTF-8, a lone CR and CR LF lines through exactly, and converts the rest", () => {
    const bad = [Buffer.from([0xff, 0xfe, 0x31]), Buffer.from("12\r34"), Buffer.from("x\r"), Buffer.from([0xc3]), Buffer.from("\r")];
    const input = Buffer.concat([Buffer.from("42\n"), ...bad.flatMap((b) => [b, Buffer.from("\n")]), Buffer.from("7\r\n")]);
    const r = runBytes(["--mapping", single, "--skip-invalid"], input);
    expect(r.status).toBe(0);
    expect(r.stdout.equals(Buffer.concat([Buffer.from(`${inv(42n, scaled)}\n`), ...bad.flatMap((b) => [b, Buffer.from("\n")]), Buffer.from(`${inv(7n, scaled)}\n`)]))).toBe(true);
    expect(r.stderr).toBe("convert: passed 5 invalid line(s) through unchanged (first: line 2)\n");
    // Only invalid lines: what comes out is what went in, size and all (it was 10 MB in, 18 MB out).
    const junk = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = i % 97 === 96 ? 10 : i % 7 === 0 ? 13 : 0x80 + (i % 64);
    junk[junk.length - 1] = 10;
    const j = runBytes(["--mapping", single, "--skip-invalid"], junk);
    expect(j.status).toBe(0);
    expect(j.stdout.length).toBe(junk.length);
    expect(j.stdout.equals(junk)).toBe(true);
  });

  it("--jsonl-field rewrites the field and leaves every other byte — invalid UTF-8, CRs — as it was", () => {
    const g = 123_456_789_012_345_678n;
    const line = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xc3]), Buffer.from(`","ts":"${g}",\r"x":1}\r\n`)]);
    const r = runBytes(["--mapping", single, "--jsonl-field", "ts"], Buffer.concat([line, line]));
    expect(r.stderr).toBe("");
    const want = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xc3]), Buffer.from(`","ts":"${inv(g, scaled)}",\r"x":1}\r\n`)]);
    expect(r.stdout.equals(Buffer.concat([want, want]))).toBe(true);
    const skipped = runBytes(["--mapping", single, "--jsonl-field", "ts", "--skip-invalid"], Buffer.from('{"ts":"x\u00e9"}\r\n{"ts":\r1}\n'));
    expect(skipped.stdout.equals(Buffer.from(`{"ts":"x\u00e9"}\r\n{"ts":\r${inv(1n, scaled)}}\n`))).toBe(true);
    expect(skipped.stderr).toBe("convert: passed 1 invalid line(s) through unchanged (first: line 1)\n");
  });
});

describe("clocksource convert: bounded lines, flushed output, constant memory", () => {
  it("a line over the bound is one line naming it, exit 1, after everything before it is written", () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `${1000 + i}\n`).join("");
    const input = Buffer.concat([Buffer.from(lines), Buffer.alloc(2 * 1024 * 1024, 0x39), Buffer.from("\n5\n")]);
    const r = runBytes(["--mapping", single], input);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("clocksource: line 1001: longer than 1048576 bytes (the longest line read); nothing after it was read\n");
    expect(r.stdout.toString()).toBe(Array.from({ length: 1000 }, (_, i) => `${inv(1000n + BigInt(i), scaled)}\n`).join(""));
    const small = runBytes(["--mapping", single, "--max-line-bytes", "20"], Buffer.from("1\n123456789012345678901\n"));
    expect(small.stderr).toBe("clocksource: line 2: longer than 20 bytes (the longest line read); nothing after it was read\n");
    expect(small.stdout.toString()).toBe(`${inv(1n, scaled)}\n`);
    const skipped = runBytes(["--mapping", single, "--skip-invalid"], input);
    expect(skipped.status).toBe(0);
    expect(skipped.stdout.equals(Buffer.concat([Buffer.from(Array.from({ length: 1000 }, (_, i) => `${inv(1000n + BigInt(i), scaled)}\n`).join("")), Buffer.alloc(2 * 1024 * 1024, 0x39), Buffer.from(`\n${inv(5n, scaled)}\n`)]))).toBe(true);
  });

  it.skipIf(!existsSync("/proc/self/status"))("peak memory stays under 64 MB and flat with a reader that sleeps (60 MB through a pipe)", async () => {
    const child = spawn(process.execPath, [CLI_BIN, "convert", "--mapping", single, "--reverse"], { env: { PATH: process.env.PATH ?? "" }, stdio: ["pipe", "pipe", "pipe"] });
    const hwm = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        return m ? Number(m[1]) * 1024 : 0;
      } catch {
        return 0;
      }
    };
    const block = Buffer.from(Array.from({ length: 3000 }, (_, i) => `${BigInt(i) * 6_004_799_503_160_661n}\n`).join(""));
    const total = 60 * 1024 * 1024;
    let sent = 0;
    const feed = async () => {
      while (sent < total) {
        if (!child.stdin.write(block)) await new Promise((r) => child.stdin.once("drain", r));
        sent += block.length;
      }
      child.stdin.end();
    };
    // The reader sleeps after each read, so the converter spends most of its time waiting on a full pipe.
    let received = 0;
    const samples: number[] = [];
    const read = new Promise<void>((resolve) => {
      child.stdout.on("data", (c: Buffer) => {
        received += c.length;
        samples.push(hwm());
        child.stdout.pause();
        setTimeout(() => child.stdout.resume(), 1);
      });
      child.stdout.on("end", resolve);
    });
    const exited = new Promise<number | null>((r) => child.on("close", r));
    await Promise.all([feed(), read]);
    expect(await exited).toBe(0);
    expect(received).toBeGreaterThan(sent * 0.9);
    const peaks = samples.filter((x) => x > 0);
    expect(peaks.length).toBeGreaterThan(10);
    const peak = Math.max(...peaks);
    console.log(`convert peak RSS ${(peak / 1048576).toFixed(1)} MB over ${(sent / 1048576).toFixed(0)} MB of input`);
    expect(peak).toBeLessThan(64 * 1024 * 1024);
    // Flat: the peak after a quarter of the input is the peak at the end (within a few MB of noise).
    const early = peaks[Math.floor(peaks.length / 4)] as number;
    expect(peak - early).toBeLessThan(8 * 1024 * 1024);
  }, 300_000);
});

describe("clocksource convert without WebAssembly (node --jitless): the exact path alone gives the same bytes", () => {
  const jitless = spawnSync(process.execPath, ["--jitless", "-e", "process.stdout.write(typeof WebAssembly)"], { encoding: "utf8" });
  const usable = jitless.status === 0 && jitless.stdout === "undefined";
  if (!usable) console.log("jitless comparison skipped: this node cannot run without WebAssembly (--jitless)");
  it.skipIf(!usable)("plain and odd lines, both directions, with and without --skip-invalid", () => {
    const lines = ["0", "1", "18446744073709551615", "18446744073709551616", " 7", "0x10", "007", "12\r", "5\r6", "", "-1", "123456789012345678"];
    for (let i = 0; i < 3000; i++) lines.push(String(BigInt(i) * 6_148_914_691_236_517n));
    const input = Buffer.from(lines.join("\n"));
    for (const args of [["--skip-invalid"], ["--skip-invalid", "--reverse"], ["--reverse"], []]) {
      const run = (node: string[]) => spawnSync(process.execPath, [...node, CLI_BIN, "convert", "--mapping", twoEpochs, ...args], { input, env: { PATH: process.env.PATH ?? "" }, maxBuffer: 64 * 1024 * 1024 });
      const fast = run([]);
      const exact = run(["--jitless"]);
      const stderr = (b: Buffer) => b.toString().split("\n").filter((l) => !l.startsWith("Warning: disabling flag")).join("\n");
      expect(exact.status, args.join(" ")).toBe(fast.status);
      expect(stderr(exact.stderr), args.join(" ")).toBe(stderr(fast.stderr));
      expect(exact.stdout.equals(fast.stdout), args.join(" ")).toBe(true);
    }
  }, 120_000);
});
