/**
 * The installed command line is bundled (scripts/bundle-cli.mjs, run by
 * `npm run build`): one self-contained file per command. These check the
 * bundles the build made — what they hold, what they leave outside, and that
 * they run with nothing installed beside them.
 */
import { spawnSync } from "node:child_process";
import { builtinModules, createRequire } from "node:module";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commandNames } from "../src/main.js";

const CLI = join(__dirname, "..");
const BUNDLE = join(CLI, "bundle");
const read = (f: string) => readFileSync(join(BUNDLE, f), "utf8");
const BUILTIN = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Every module a bundle loads at run time by a literal name. */
function requiredNames(text: string): string[] {
  const patterns = [/\brequire\("([^"]+)"\)/g, /\bimport\("([^"]+)"\)/g, /(?:^|[;}\n])import(?:[\w$*{},\s]+from)?\s*"([^"]+)"/g];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1] as string));
}

describe("the bundled command line", () => {
  const files = existsSync(BUNDLE) ? readdirSync(BUNDLE) : [];

  it("has a file per command, one for --version, one for the rest, and the paravirtual probe's helper", () => {
    for (const name of commandNames()) expect(files, name).toContain(`cmd-${name}.cjs`);
    for (const f of ["version.cjs", "main.cjs", "sync-child.js", "THIRD-PARTY-NOTICES.txt"]) expect(files).toContain(f);
  });

  it("loads nothing from outside but Node's own modules, the optional native reader and the command files beside it", () => {
    for (const f of files.filter((f) => /\.c?js$/.test(f))) {
      const names = requiredNames(read(f));
      const beside = names.filter((n) => n.startsWith("./"));
      for (const n of beside) expect(files, `${f} loads ${n}`).toContain(n.slice(2));
      expect(names.filter((n) => !BUILTIN.has(n) && n !== "@clocksource/native" && !beside.includes(n)), f).toEqual([]);
    }
    // Help loads each command from its own file rather than holding a second copy of all of them.
    const fromMain = requiredNames(read("main.cjs")).filter((n) => n.startsWith("./cmd-"));
    expect(fromMain.sort()).toEqual(commandNames().map((n) => `./cmd-${n}.cjs`).sort());
    expect(read("main.cjs")).not.toContain("TypeInfo not known");
  });

  it("holds only what its command needs: convert has neither the DI container nor the trace readers", () => {
    const convert = read("cmd-convert.cjs");
    const probe = read("cmd-probe.cjs");
    // tsyringe's own error message, and a trace reader's format name.
    expect(probe).toContain("TypeInfo not known");
    expect(convert).not.toContain("TypeInfo not known");
    expect(read("cmd-trace.cjs")).toContain("trace-cmd");
    expect(convert).not.toMatch(/PERFILE2/);
    expect(read("version.cjs").length).toBeLessThan(convert.length);
  });

  it("loads at start-up no built-in that only some runs use (each costs milliseconds before the first fact or line)", () => {
    const probe = requiredNames(read("cmd-probe.cjs"));
    const convert = requiredNames(read("cmd-convert.cjs"));
    // dmesg without /dev/kmsg, the agent probe, endpoints; node:module stands in for the bundle's own require.
    for (const n of ["node:child_process", "node:net", "node:module"]) expect(probe, n).not.toContain(n);
    // only the asynchronous user-file paths use node:fs/promises; convert reads its mapping synchronously.
    for (const n of ["node:fs/promises", "node:module"]) expect(convert, n).not.toContain(n);
  });

  it("has V8's code cache beside the commands whose start-up counts, and V8 takes it (the Node that built it runs here)", () => {
    const cached = files.filter((f) => f.endsWith(".v8cache")).sort();
    expect(cached).toEqual(["cmd-convert.cjs.v8cache", "cmd-now.cjs.v8cache", "cmd-probe.cjs.v8cache"]);
    // In a plain node process, as the command line runs (a test runner's own flags could change V8's flag hash).
    const check = `const { readFileSync } = require("node:fs"); const vm = require("node:vm"); const Module = require("node:module");
      for (const f of ${JSON.stringify(cached.map((f) => join(BUNDLE, f)))}) {
        const file = f.slice(0, -".v8cache".length);
        const s = new vm.Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData: readFileSync(f) });
        console.log(f.split("/").pop(), s.cachedDataRejected);
      }`;
    const r = spawnSync(process.execPath, ["-e", check], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual(cached.map((f) => `${f} false`));
  });

  it("names the licences of the third-party code inside", () => {
    const notices = read("THIRD-PARTY-NOTICES.txt");
    for (const pkg of ["tsyringe", "reflect-metadata"]) expect(notices).toMatch(new RegExp(`^${pkg} \\d+\\.\\d+\\.\\d+ \\(`, "m"));
  });

  it("opens @clocksource/native by its path, the module Node would resolve, without Node's ES module resolver", () => {
    // The package's `exports` would make Node compile part of its ES module resolver (5 ms of every probe).
    const script = `
      const { Writable } = require("node:stream");
      const sink = new Writable({ write: (_c, _e, done) => done() });
      require(${JSON.stringify(join(BUNDLE, "cmd-probe.cjs"))}).main(["probe", "--json"], { stdout: sink, stderr: sink, env: {} }).then((code) => {
        const loaded = Object.keys(require.cache).filter((f) => /native[\\/]dist[\\/]index\.js$/.test(f));
        console.log(JSON.stringify({ code, loaded, esmResolver: process.moduleLoadList.includes("NativeModule internal/modules/esm/resolve") }));
      });`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", cwd: CLI, env: { PATH: process.env.PATH ?? "" } });
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as { code: number; loaded: string[]; esmResolver: boolean };
    expect(got.code).toBe(0);
    expect(got.loaded).toEqual([realpathSync(createRequire(join(CLI, "package.json")).resolve("@clocksource/native"))]);
    expect(got.esmResolver).toBe(false);
  });

  describe("copied alone, with no node_modules beside it", () => {
    const dir = mkdtempSync(join(tmpdir(), "clocksource-bundle-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    for (const part of ["bin", "bundle", "package.json"]) cpSync(join(CLI, part), join(dir, part), { recursive: true });
    const run = (args: string[]) => spawnSync(process.execPath, [join(dir, "bin/clocksource.cjs"), ...args], { encoding: "utf8", timeout: 60_000, cwd: dir, env: { PATH: process.env.PATH ?? "" } });

    it("--version says which versions are built in and that the native reader is not installed", () => {
      const r = run(["--version"]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^clocksource \d+\.\d+\.\d+\nnative reader: not loaded: @clocksource\/native is not installed .*\nbackend packages: @clocksource\/x86 \d+\.\d+\.\d+, @clocksource\/arm \d+\.\d+\.\d+, @clocksource\/paravirt \d+\.\d+\.\d+\n/);
    });

    it("finds the native reader where Node would, NODE_PATH included, when it is not in a node_modules above", () => {
      const r = spawnSync(process.execPath, [join(dir, "bin/clocksource.cjs"), "--version"], { encoding: "utf8", cwd: dir, env: { PATH: process.env.PATH ?? "", NODE_PATH: join(CLI, "..", "..", "node_modules") } });
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/\nnative reader: (loaded|not loaded: (?!@clocksource\/native is not installed))/);
    });

    it("probe --json works and selects a clock without the native reader", () => {
      const r = run(["probe", "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { selected?: string | null; runtime: { native: { loaded: boolean } } };
      expect(doc.runtime.native.loaded).toBe(false);
      expect(typeof doc.selected).toBe("string");
    });

    it("a code cache that does not fit (another Node, a damaged file) is ignored: V8 compiles the bundle as usual", () => {
      const good = run(["probe", "--json"]);
      writeFileSync(join(dir, "bundle/cmd-probe.cjs.v8cache"), Buffer.alloc(4096, 0x5a));
      writeFileSync(join(dir, "bundle/cmd-convert.cjs.v8cache"), Buffer.alloc(0));
      const r = run(["probe", "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const strip = (t: string) => t.replace(/"(reason|value|source)": "[^"]*\d{6,}[^"]*"/g, "");
      expect(strip(r.stdout)).toBe(strip(good.stdout));
      expect(run(["convert", "--no-such-option"]).status).toBe(2);
    });

    it("a command's usage error is one line with exit 2, as from the whole command line", () => {
      const r = run(["convert", "--no-such-option"]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^clocksource: /);
    });
  });
});
