/**
 * The prebuilt binaries shipped in the package: built here the way `npm pack`
 * builds them (scripts/prebuild.mjs), the host one loaded by Node and chosen
 * by node-gyp-build, the arm64 one run under qemu-user through a minimal
 * Node-API host (test/qemu/napi-host.c) — there is no arm64 Node here — and
 * the install step's fallback notice when neither a prebuild nor a source
 * build is possible. Skips, saying why, where a compiler or qemu is missing.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PKG = join(__dirname, "..");
const REPO = join(PKG, "..", "..");

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

const HOST_ARCH = process.arch === "x64" || process.arch === "arm64" ? process.arch : null;
const CAN_BUILD = process.platform === "linux" && HOST_ARCH !== null && onPath("cc") && existsSync("/usr/include/node/node_api.h");
const QEMU = onPath("qemu-aarch64") ? "qemu-aarch64" : onPath("qemu-aarch64-static") ? "qemu-aarch64-static" : null;
const CAN_CROSS = CAN_BUILD && process.arch === "x64" && onPath("aarch64-linux-gnu-gcc");
const CAN_EMULATE = CAN_CROSS && QEMU !== null && existsSync("/usr/aarch64-linux-gnu/lib");
if (!CAN_BUILD) console.warn("skipping the prebuild tests: they need Linux x64/arm64, a C compiler (cc) and the Node headers (/usr/include/node)");
else if (!CAN_EMULATE) console.warn("skipping the arm64 prebuild run: needs aarch64-linux-gnu-gcc, libc6-dev-arm64-cross and qemu-user (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)");

let tmp = "";
let out = "";
let built: { status: number | null; stderr: string } = { status: null, stderr: "" };

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "cs-native-prebuild-"));
  out = join(tmp, "out");
  if (!CAN_BUILD) return;
  const r = spawnSync(process.execPath, [join(PKG, "scripts/prebuild.mjs"), "--out", out], { encoding: "utf8", timeout: 240_000 });
  built = { status: r.status, stderr: r.stderr };
}, 250_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The one file prebuildify wrote for linux-<arch>. */
function prebuildFor(arch: string): string {
  const dir = join(out, "prebuilds", `linux-${arch}`);
  const files = readdirSync(dir);
  expect(files).toEqual(["@clocksource+native.glibc.node"]);
  return join(dir, files[0] as string);
}

describe.skipIf(!CAN_BUILD)("prebuilt addons (scripts/prebuild.mjs, run by prepack)", () => {
  it("builds the host's prebuild, and the other architecture's when its cross compiler is there", () => {
    expect(built.status, built.stderr).toBe(0);
    expect(built.stderr).toContain(`prebuilt linux-${HOST_ARCH}/@clocksource+native.glibc.node`);
    const file = spawnSync("file", ["-b", prebuildFor(HOST_ARCH as string)], { encoding: "utf8" });
    if (file.status === 0) expect(file.stdout).toMatch(HOST_ARCH === "x64" ? /ELF 64-bit .*x86-64.*stripped/ : /ELF 64-bit .*aarch64.*stripped/);
    if (CAN_CROSS) expect(built.stderr).toContain("prebuilt linux-arm64/@clocksource+native.glibc.node");
  });

  it("node-gyp-build picks the shipped prebuild when there is no source build, and Node loads it and reads the counter", () => {
    // A package laid out as installed from the tarball: no build/, only prebuilds/.
    const pkg = join(tmp, "installed");
    mkdirSync(join(pkg, "node_modules"), { recursive: true });
    cpSync(join(PKG, "package.json"), join(pkg, "package.json"));
    cpSync(join(out, "prebuilds"), join(pkg, "prebuilds"), { recursive: true });
    symlinkSync(join(REPO, "node_modules", "node-gyp-build"), join(pkg, "node_modules", "node-gyp-build"));
    const script = `
      const p = require("node-gyp-build").resolve(${JSON.stringify(pkg)});
      const b = require(p);
      const pair = new BigUint64Array(3);
      b.readCounterPair(pair);
      console.log(JSON.stringify({ p, counter: b.counter, a: String(b.readCounter()), b: String(b.readCounter()), pair: [...pair].map(String) }));`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", cwd: pkg });
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as { p: string; counter: string; a: string; b: string; pair: string[] };
    expect(got.p).toBe(join(pkg, "prebuilds", `linux-${HOST_ARCH}`, "@clocksource+native.glibc.node"));
    expect(got.counter).toBe(HOST_ARCH === "x64" ? "tsc" : "cntvct");
    expect(BigInt(got.b)).toBeGreaterThanOrEqual(BigInt(got.a));
    expect(BigInt(got.pair[2] as string)).toBeGreaterThanOrEqual(BigInt(got.pair[0] as string));
  });

  it.skipIf(!CAN_EMULATE)("the linux-arm64 prebuild runs under qemu-user: cntvct_el0, cntfrq_el0, the pair and the sink", () => {
    const host = join(tmp, "napi-host");
    const cc = spawnSync("aarch64-linux-gnu-gcc", ["-O2", "-Wall", "-rdynamic", "-I/usr/include/node", "-o", host, join(PKG, "test/qemu/napi-host.c")], { encoding: "utf8" });
    expect(cc.stderr).toBe("");
    expect(cc.status).toBe(0);
    const run = spawnSync(QEMU as string, ["-L", "/usr/aarch64-linux-gnu", host, prebuildFor("arm64")], { encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const kv = Object.fromEntries(run.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
    expect(kv.counter).toBe("cntvct");
    expect((kv.exports as string).split(" ").sort()).toEqual(["cntfrq", "cntvct", "counter", "mulShiftAddBatch", "mulShiftAddInverseBatch", "noop", "readCounter", "readCounterPair", "readCounterToSink", "setSink"]);
    const n = (k: string): bigint => BigInt(kv[k] as string);
    expect(n("cntfrq")).toBeGreaterThan(0n);
    expect(n("second")).toBeGreaterThanOrEqual(n("first"));
    expect(n("pair_after")).toBeGreaterThanOrEqual(n("pair_before"));
    expect(n("pair_monotonic_ns")).toBeGreaterThan(0n);
    expect(n("sink")).toBeGreaterThanOrEqual(n("sink_lo"));
    expect(n("sink")).toBeLessThanOrEqual(n("sink_hi"));
    expect(kv.short_pair_throws).toBe("TypeError: readCounterPair needs a BigUint64Array of length >= 3");
  });

  it.skipIf(!CAN_EMULATE)("the linux-arm64 prebuild's 128-bit batch kernels are bit-identical to the BigInt reference (under qemu-user)", () => {
    const host = join(tmp, "napi-host-batch");
    const cc = spawnSync("aarch64-linux-gnu-gcc", ["-O2", "-Wall", "-rdynamic", "-I/usr/include/node", "-o", host, join(PKG, "test/qemu/napi-host.c")], { encoding: "utf8" });
    expect(cc.status, cc.stderr).toBe(0);
    const M64 = (1n << 64n) - 1n;
    // Edge values of every argument, and a seeded walk through the rest (no fast-check here: one process runs every case).
    let seed = 0x2545f4914f6cdd1dn;
    const next = (): bigint => {
      seed ^= (seed << 13n) & M64;
      seed ^= seed >> 7n;
      seed ^= (seed << 17n) & M64;
      return seed;
    };
    const edges = [0n, 1n, 2n, (1n << 32n) - 1n, 1n << 32n, 1n << 48n, (1n << 63n) - 1n, 1n << 63n, M64 - 1n, M64];
    const cases: { op: "fwd" | "inv"; mult: bigint; shift: number; add: bigint; values: bigint[] }[] = [];
    const pick = (): bigint => (next() % 3n === 0n ? (edges[Number(next() % BigInt(edges.length))] as bigint) : next() >> (next() % 64n));
    for (let c = 0; c < 400; c++) {
      const op = c % 2 === 0 ? "fwd" : "inv";
      let mult = c % 5 === 0 ? (1n << 48n) + 4503599627n : pick();
      if (op === "inv" && mult === 0n) mult = 1n;
      const shift = c % 3 === 0 ? Number(next() % 64n) : ([0, 32, 48, 63][c % 4] as number);
      cases.push({ op, mult, shift, add: pick(), values: Array.from({ length: 1 + (c % 17) }, pick) });
    }
    const noResult = (k: (typeof cases)[number]) => k.op === "inv" && k.values.some((y) => ((y - k.add) & M64) << BigInt(k.shift) > M64 * k.mult);
    const randomWithout = cases.filter(noResult).length;
    // The inverse's range check at its exact edge: mult·(2^64 − 1) has a result, one more does not.
    for (const mult of [1n, 3n, (1n << 48n) + 4503599627n, M64])
      for (const shift of [0, 1, 48, 63]) {
        const edge = (M64 * mult) >> BigInt(shift);
        cases.push({ op: "inv", mult, shift, add: 0n, values: [edge, edge + 1n].filter((u) => u <= M64) });
      }
    const input = cases.map((k) => `${k.op} ${k.mult} ${k.shift} ${k.add} ${k.values.join(" ")}\n`).join("");
    const run = spawnSync(QEMU as string, ["-L", "/usr/aarch64-linux-gnu", host, prebuildFor("arm64"), "batch"], { input, encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n").filter((l) => !l.startsWith("napi_version "));
    // Each case apart, then in place; last, an output one value after the input in the same memory.
    expect(lines).toHaveLength(2 * cases.length + 1);
    cases.forEach((k, i) => {
      const want = k.values.map((y) => {
        if (k.op === "fwd") return (((y * k.mult) >> BigInt(k.shift)) + k.add) & M64;
        const u = ((y - k.add) & M64) << BigInt(k.shift);
        return u > M64 * k.mult ? undefined : (u + k.mult - 1n) / k.mult;
      });
      const line = [k.op === "inv" ? want.indexOf(undefined) : -1, ...want.map((r, j) => r ?? k.values[j])].join(" ");
      const what = `${k.op} mult ${k.mult} shift ${k.shift} add ${k.add}`;
      expect(lines[2 * i], `${what}, apart`).toBe(line);
      expect(lines[2 * i + 1], `${what}, in place`).toBe(line);
    });
    expect(lines[2 * cases.length], "overlapping output").toBe("-2 20 30 40 50");
    expect(randomWithout).toBeGreaterThan(0); // random cases reached the inverse's "no result" path too
  });
});

describe("the install step (scripts/install.cjs)", () => {
  /** A copy of the package as npm unpacks it, before its install script runs. */
  function stage(name: string, withPrebuilds: boolean): string {
    const pkg = join(tmp, name);
    mkdirSync(join(pkg, "node_modules"), { recursive: true });
    for (const f of ["package.json", "binding.gyp", "csrc", "scripts", "dist"]) cpSync(join(PKG, f), join(pkg, f), { recursive: true });
    if (withPrebuilds) cpSync(join(out, "prebuilds"), join(pkg, "prebuilds"), { recursive: true });
    symlinkSync(join(REPO, "node_modules", "node-gyp-build"), join(pkg, "node_modules", "node-gyp-build"));
    return pkg;
  }
  // No node-gyp and no compiler: only node itself on PATH.
  const bare = (): NodeJS.ProcessEnv => {
    const bin = join(tmp, "bin");
    mkdirSync(bin, { recursive: true });
    if (!existsSync(join(bin, "node"))) symlinkSync(process.execPath, join(bin, "node"));
    return { PATH: `${bin}:/usr/bin/nonexistent` };
  };

  /**
   * Runs the install step as npm would. In a session of its own (setsid), without
   * a controlling terminal: the notice also goes to /dev/tty when there is one,
   * and a test must not write to the developer's terminal.
   */
  const runInstall = (pkg: string) => {
    const args = [join(pkg, "scripts/install.cjs")];
    const setsid = spawnSync("sh", ["-c", "command -v setsid"], { encoding: "utf8" }).stdout.trim();
    return spawnSync(setsid || process.execPath, setsid ? [process.execPath, ...args] : args, { encoding: "utf8", cwd: pkg, env: bare() });
  };

  it.skipIf(!existsSync(join(PKG, "dist/index.js")))("with nothing to load and nothing to build: one line on stderr, exit 0, and the runtime reason repeats it", () => {
    const pkg = stage("no-addon", false);
    const r = runInstall(pkg);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^@clocksource\/native: counter reads will use the fallback .*: no prebuilt addon for linux-\w+ \(No native build was found.*\) and node-gyp is not available to build one$/);
    expect(readFileSync(join(pkg, "install-notice.txt"), "utf8")).toMatch(/node-gyp is not available/);
    const load = spawnSync(process.execPath, ["--input-type=module", "-e", `import(${JSON.stringify(join(pkg, "dist/index.js"))}).then((m) => console.log(JSON.stringify(m.availability)))`], { encoding: "utf8", env: bare() });
    expect(load.stderr).toBe("");
    const a = JSON.parse(load.stdout) as { available: boolean; reason: string };
    expect(a.available).toBe(false);
    expect(a.reason).toMatch(/^no addon for linux-\w+: prebuilt binaries cover linux-x64 and linux-arm64 \(the package has no prebuilds\/\).*; at install: no prebuilt addon .* node-gyp is not available to build one$/);
  });

  it.skipIf(!CAN_BUILD || !existsSync(join(PKG, "dist/index.js")))("with a prebuild for this machine: silent, builds nothing, and the runtime loads the prebuild", () => {
    const pkg = stage("with-prebuild", true);
    const r = runInstall(pkg);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(existsSync(join(pkg, "build"))).toBe(false);
    expect(existsSync(join(pkg, "install-notice.txt"))).toBe(false);
    const load = spawnSync(process.execPath, ["--input-type=module", "-e", `import(${JSON.stringify(join(pkg, "dist/index.js"))}).then((m) => console.log(JSON.stringify(m.availability)))`], { encoding: "utf8", env: bare() });
    expect(JSON.parse(load.stdout)).toEqual({ available: true, path: join(pkg, "prebuilds", `linux-${HOST_ARCH}`, "@clocksource+native.glibc.node"), origin: "prebuilt" });
  });
});
