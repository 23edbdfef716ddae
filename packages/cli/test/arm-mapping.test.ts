import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { mappingCodecRegistry, parseMappingFile, resolveMapping } from "@clocksource/core";
import { armCntvoffCodec } from "@clocksource/arm";
import { runCli } from "../../../test/support/run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "arm-mapping-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const registry = mappingCodecRegistry([armCntvoffCodec]);

function ok(args: string[], input?: string) {
  const r = runCli(["arm-mapping", ...args], input === undefined ? {} : { input });
  expect(r.stderr, r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

function usageError(args: string[], pattern: RegExp, input?: string, status = 2) {
  const r = runCli(["arm-mapping", ...args], input === undefined ? {} : { input });
  expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(status);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^clocksource: .+\n$/); // one line, no stack
  expect(r.stderr).toMatch(pattern);
}

describe("clocksource arm-mapping", () => {
  it("writes a one-epoch arm-cntvoff file to stdout from --voffset (decimal or hex)", () => {
    const file = parseMappingFile(ok(["--voffset", "0x1000", "--width", "56", "--observed-at", "2025-01-01T00:00:00Z"]));
    expect(file).toMatchObject({ kind: "arm-cntvoff", from: "guest.cntvct", to: "host.cntpct", exact: true, errorBound: 0n });
    expect(file.epochs).toHaveLength(1);
    expect(file.epochs[0]).toMatchObject({ observedAt: "2025-01-01T00:00:00Z", validFrom: null, validUntil: null, params: { view: "virtual", voffset: "4096", widthBits: 56 } });
    const m = resolveMapping(file, registry);
    expect(m.forward(0n).value).toBe(4096n);
    expect(m.inverse(0n).value).toBe((1n << 56n) - 4096n);
  });

  it("records poffset and maps the physical view with it (FEAT_ECV)", () => {
    const file = parseMappingFile(ok(["--voffset", "100", "--poffset", "7", "--view", "physical"]));
    expect(file).toMatchObject({ from: "guest.cntpct", to: "host.cntpct" });
    expect(resolveMapping(file, registry).forward(1n).value).toBe(8n);
    expect(file.epochs[0]?.params).toEqual({ view: "physical", voffset: "100", poffset: "7", widthBits: 64 });
  });

  it("writes --out atomically and leaves no temporary file behind", () => {
    const out = join(tmp, "one.json");
    expect(ok(["--voffset", "5", "--out", out])).toBe("");
    expect(parseMappingFile(readFileSync(out, "utf8")).kind).toBe("arm-cntvoff");
    expect(readdirSync(tmp).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("builds epochs from JSON lines (a file or stdin) and converts each value in its epoch", () => {
    const lines = [
      '{"observedAt":"2025-01-01T00:00:00Z","voffset":"1000"}',
      '{"observedAt":"2025-01-01T00:05:00Z","voffset":"90000","validFrom":"5000"}',
      '{"observedAt":"2025-01-01T01:00:00Z","voffset":"100000","hostCounter":"200000","lastObservedAt":"2025-01-01T02:00:00Z"}',
    ].join("\n");
    const path = join(tmp, "epochs.jsonl");
    writeFileSync(path, lines);
    const fromFile = parseMappingFile(ok(["--epochs", path, "--width", "56"]));
    const fromStdin = parseMappingFile(ok(["--epochs", "-", "--width", "56"], lines));
    expect({ ...fromStdin, createdAt: "", origin: null }).toEqual({ ...fromFile, createdAt: "", origin: null });
    expect(fromFile.epochs.map((e) => [e.validFrom, e.validUntil])).toEqual([[null, 5000n], [5000n, 100000n], [100000n, 100000n + (1n << 55n)]]);
    const m = resolveMapping(fromFile, registry);
    expect([m.forward(4999n).value, m.forward(5000n).value, m.forward(100000n).value]).toEqual([5999n, 95000n, 200000n]);
  });

  it("warns when later epochs have no validFrom (convert then needs --epoch)", () => {
    const r = runCli(["arm-mapping", "--epochs", "-"], { input: '{"observedAt":"2025-01-01T00:00:00Z","voffset":"1"}\n{"observedAt":"2025-01-01T00:00:01Z","voffset":"2"}\n' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^clocksource: warning: .*--epoch K\n$/);
    expect(parseMappingFile(r.stdout).epochs).toHaveLength(2);
  });

  it("turns bad input into one line: exit 2 for the command line, 1 for files", { timeout: 180_000 }, () => {
    usageError([], /give --voffset N .* or --epochs FILE/);
    usageError(["--voffset", "1", "--epochs", "x"], /not both or neither/);
    usageError(["--voffset", "12x"], /--voffset is not an unsigned 64-bit integer/);
    usageError(["--voffset", "18446744073709551616"], /--voffset exceeds 2\^64-1/);
    usageError(["--voffset", "1", "--width", "55"], /--width must be an integer in 56\.\.64/);
    usageError(["--voffset", "1", "--view", "physical"], /needs --poffset/);
    usageError(["--voffset", "1", "--view", "sideways"], /--view must be virtual or physical/);
    usageError(["--voffset", "1", "--observed-at", "yesterday"], /--observed-at must be an ISO 8601 UTC time/);
    usageError(["--voffset", "1", "--bogus"], /Unknown option '--bogus'/);
    usageError(["--voffset", "1", "--observed-at", "2025-02-30T00:00:00Z"], /--observed-at must be an ISO 8601 UTC time/);
    usageError(["--voffset", "1", "--out", ""], /--out needs a file name/);
    const runtime = (args: string[], pattern: RegExp, input?: string) => usageError(args, pattern, input, 1);
    runtime(["--epochs", join(tmp, "missing.jsonl")], /cannot read --epochs file .*missing\.jsonl: not present/);
    runtime(["--epochs", "-"], /line 2\.voffset: missing/, '{"observedAt":"2025-01-01T00:00:00Z","voffset":"1"}\n{"observedAt":"2025-01-01T00:00:00Z"}\n');
    runtime(["--epochs", "-"], /line 1\.observedAt: not a real date/, '{"observedAt":"2025-02-30T00:00:00Z","voffset":"1"}\n');
    runtime(["--epochs", "/dev/zero"], /--epochs file \/dev\/zero is a character device, not a regular file/);
    runtime(["--voffset", "1", "--out", join(tmp, "no/such/dir/x.json")], /cannot write mapping file .*: its directory does not exist/);
    expect(existsSync(join(tmp, "no"))).toBe(false);
  });

  it("--epochs FIFO is one line and exit 1 at once; --out follows the file rules", { timeout: 30_000 }, () => {
    const fifo = join(tmp, "epochs.fifo");
    if (spawnSync("mkfifo", [fifo]).status === 0) {
      const r = runCli(["arm-mapping", "--epochs", fifo], { timeoutMs: 10_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`clocksource: --epochs file ${fifo} is a FIFO, not a regular file\n`);
    } else console.warn("skipping the FIFO case: mkfifo failed");
    const nul = runCli(["arm-mapping", "--voffset", "1", "--out", "/dev/null"]);
    expect(nul.status, nul.stderr).toBe(0);
    expect(lstatSync("/dev/null").isCharacterDevice()).toBe(true);
    const dash = runCli(["arm-mapping", "--voffset", "1", "--out", "-"]);
    expect(parseMappingFile(dash.stdout).kind).toBe("arm-cntvoff");
  });

  it("is usable by clocksource convert, guest → host and --reverse host → guest, across the wrap", () => {
    const voffset = (1n << 64n) - 3n; // a guest counter ahead of the host's: the subtraction wraps
    const out = join(tmp, "wrap.json");
    ok(["--voffset", voffset.toString(), "--width", "56", "--out", out]);
    const guest = [0n, 1n, 2n, 3n, (1n << 56n) - 1n];
    const fwd = runCli(["convert", "--mapping", out], { input: guest.map(String).join("\n") + "\n" });
    expect(fwd.stderr).toBe("");
    expect(fwd.status).toBe(0);
    const host = fwd.stdout.trim().split("\n").map(BigInt);
    expect(host).toEqual(guest.map((g) => (g + voffset) % (1n << 56n)));
    const back = runCli(["convert", "--mapping", out, "--reverse"], { input: fwd.stdout });
    expect(back.status).toBe(0);
    expect(back.stdout.trim().split("\n").map(BigInt)).toEqual(guest);
  });

  it("convert agrees with the BigInt definition on random values at every width", () => {
    for (const w of [56, 57, 61, 64]) {
      const out = join(tmp, `w${w}.json`);
      const [voffset, values] = fc.sample(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.array(fc.bigInt({ min: 0n, max: (1n << BigInt(w)) - 1n }), { minLength: 20, maxLength: 20 })), { numRuns: 1, seed: w })[0]!;
      ok(["--voffset", voffset.toString(), "--width", String(w), "--out", out]);
      const r = runCli(["convert", "--mapping", out], { input: values.join("\n") + "\n" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split("\n").map(BigInt)).toEqual(values.map((g) => BigInt.asUintN(w, g + voffset)));
    }
  });
});
