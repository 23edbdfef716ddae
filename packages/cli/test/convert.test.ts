import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildMappingFile, serializeMappingFile } from "@clocksource/core";
import { kvmForward, kvmInverse, kvmTscCodec, type KvmTscParams } from "@clocksource/x86";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";

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

const u64 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, 1n, (1n << 64n) - 1n));

describe("clocksource convert (subprocess)", () => {
  it("guest → host exactly (decimal and 0x-hex in, decimal out), and --reverse host → guest", () => {
    const values = fc.sample(u64, 2000);
    const ok = values.filter((v) => {
      try {
        kvmInverse(v, scaled);
        return true;
      } catch {
        return false;
      }
    });
    const input = ok.map((v, i) => (i % 2 ? `0x${v.toString(16)}` : v.toString())).join("\n") + "\n";
    const r = runCli(["convert", "--mapping", single], { input });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(ok.map((v) => `${kvmInverse(v, scaled)}\n`).join(""));
    const back = runCli(["convert", "--mapping", single, "--reverse"], { input: r.stdout });
    expect(back.status).toBe(0);
    // host → guest of the smallest host tick gives the guest value back
    expect(back.stdout).toBe(ok.map((v) => `${kvmForward(kvmInverse(v, scaled), scaled)}\n`).join(""));
    expect(back.stdout).toBe(ok.map((v) => `${v}\n`).join(""));
  });

  it("invalid lines: line-numbered error and exit 2, or --skip-invalid passes them through and counts", () => {
    const input = "1000000000000000\n12abc\n\n18446744073709551616\n-5\n42\n";
    const r = runCli(["convert", "--mapping", single], { input });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('clocksource: line 2: guest.tsc value is not an unsigned 64-bit integer: "12abc"\n');
    expect(r.stdout).toBe(`${kvmInverse(1000000000000000n, scaled)}\n`);
    const s = runCli(["convert", "--mapping", single, "--skip-invalid"], { input });
    expect(s.status).toBe(0);
    expect(s.stdout).toBe(`${kvmInverse(1000000000000000n, scaled)}\n12abc\n\n18446744073709551616\n-5\n${kvmInverse(42n, scaled)}\n`);
    expect(s.stderr).toBe("convert: passed 4 invalid line(s) through unchanged (first: line 2)\n");
  });

  it("--jsonl-field rewrites only that top-level field, keeping its JSON type and the rest of the line", () => {
    const g = 123_456_789_012_345_678n;
    const h = kvmInverse(g, scaled);
    const lines = [
      `{"ts":"${g}","event":"irq","nested":{"ts":"1"}}`,
      `{ "cpu" : 3 ,  "ts" : 4503599627370495 , "args":[1,"ts",{"ts":2}] }`,
      `{"a":"x\\"ts\\":1","ts":"${g}"}`,
    ];
    const r = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: lines.join("\n") + "\n" });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual([
      `{"ts":"${h}","event":"irq","nested":{"ts":"1"}}`,
      `{ "cpu" : 3 ,  "ts" : ${kvmInverse(4503599627370495n, scaled)} , "args":[1,"ts",{"ts":2}] }`,
      `{"a":"x\\"ts\\":1","ts":"${h}"}`,
      "",
    ]);
    const bad = runCli(["convert", "--mapping", single, "--jsonl-field", "ts"], { input: `{"ts":"1"}\n{"ts":1.5}\n` });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^clocksource: line 2: field "ts" is not a u64/);
    const missing = runCli(["convert", "--mapping", single, "--jsonl-field", "time"], { input: `{"ts":"1"}\n` });
    expect(missing.stderr).toMatch(/line 1: no field "time"/);
  });

  it("--vcpu is needed only where vCPUs differ; --epoch forces an epoch", () => {
    const need = runCli(["convert", "--mapping", perVcpu], { input: "1\n" });
    expect(need.status).toBe(2);
    expect(need.stderr).toMatch(/vCPUs' parameters differ in epoch 0.*pass --vcpu N/);
    const v1 = runCli(["convert", "--mapping", perVcpu, "--vcpu", "1"], { input: "6000000000\n" });
    expect(v1.stdout).toBe(`${kvmInverse(6000000000n, amd)}\n`);
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

  it("bad mapping files and options: one line, exit 2", () => {
    const broken = join(tmp, "broken.json");
    writeFileSync(broken, JSON.stringify({ schema: "clocksource.mapping/v1", kind: "kvm-x86-tsc", from: "guest.tsc", to: "host.tsc", createdAt: T0, producer: "x", exact: true, errorBound: "0", epochs: [{ observedAt: T0, validFrom: null, validUntil: null, errorBound: "0", params: { tscOffset: "1", tscScalingRatio: 5, fracBits: 48 } }] }));
    const cases: [string[], RegExp][] = [
      [["--mapping", broken], /\$\.epochs\[0\]\.params\.tscScalingRatio: expected a u64 as a decimal string/],
      [["--mapping", join(tmp, "nope.json")], /cannot read .*nope\.json: no such file/],
      [[], /--mapping FILE is required/],
      [["--mapping", single, "--vcpu=-1"], /--vcpu must be a non-negative integer/],
      [["--mapping", single, "--epoch", "3"], /no epoch 3/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(["convert", ...args], { input: "1\n" });
      expect(r.status, args.join(" ")).toBe(2);
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
    expect(got.startsWith(`${kvmInverse(1_000_000_000_000n, scaled)}\n`)).toBe(true);
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
  });
});
