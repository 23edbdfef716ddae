/**
 * `clocksource completion bash|zsh|fish`: each script is checked by its own
 * shell (syntax), and bash and fish really complete commands, options and
 * option values with it. Skips, saying so, where a shell is not installed.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}
const HAVE = { bash: onPath("bash"), zsh: onPath("zsh"), fish: onPath("fish") };
for (const [shell, ok] of Object.entries(HAVE)) if (!ok) console.warn(`skipping the ${shell} completion checks: ${shell} is not installed (Debian: apt-get install ${shell})`);

const tmp = mkdtempSync(join(tmpdir(), "cs-cli-completion-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function script(shell: string): string {
  const r = runCli(["completion", shell]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const file = join(tmp, `clocksource.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** What bash's completion function offers for the words typed so far (the last one is being completed). */
function bashComplete(file: string, words: string[], cwd: string = tmp): string[] {
  const program = `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}; _clocksource; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", program], { encoding: "utf8", cwd });
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("clocksource completion", () => {
  it("refuses an unknown or missing shell with one line and exit 2", () => {
    for (const [args, msg] of [
      [["completion"], /^clocksource: completion: which shell\? \(bash, zsh, fish\)\n$/],
      [["completion", "tcsh"], /^clocksource: completion: unknown shell "tcsh" \(bash, zsh, fish\)\n$/],
      [["completion", "bash", "zsh"], /^clocksource: completion: unexpected argument "zsh"\n$/],
    ] as const) {
      const r = runCli([...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe("");
    }
  });

  it.skipIf(!HAVE.bash)("bash: the script parses, and completes commands, each command's options and file/directory values", () => {
    const file = script("bash");
    expect(spawnSync("bash", ["-n", file]).status).toBe(0);
    const commands = bashComplete(file, ["clocksource", ""]);
    for (const c of ["probe", "now", "convert", "completion", "help", "--version"]) expect(commands).toContain(c);
    expect(bashComplete(file, ["clocksource", "pr"])).toEqual(["probe"]);
    const probeOpts = bashComplete(file, ["clocksource", "probe", "--"]);
    for (const o of ["--sysroot", "--json", "--backend", "--exclude", "--require-exact", "--plugin", "--no-native", "--help"]) expect(probeOpts).toContain(o);
    expect(bashComplete(file, ["clocksource", "probe", "--sys"])).toEqual(["--sysroot"]);
    expect(bashComplete(file, ["clocksource", "completion", ""])).toEqual(["bash", "fish", "zsh"]);
    expect(bashComplete(file, ["clocksource", "help", "kvm"])).toEqual(["kvm-mapping"]);
    // Values: --sysroot takes a directory, --plugin a file, --backend an id (nothing to offer).
    mkdirSync(join(tmp, "snapdir"), { recursive: true });
    writeFileSync(join(tmp, "snapfile"), "");
    expect(bashComplete(file, ["clocksource", "probe", "--sysroot", "snap"])).toEqual(["snapdir"]);
    expect(bashComplete(file, ["clocksource", "probe", "--plugin", "snap"])).toEqual(["snapdir", "snapfile"]);
    expect(bashComplete(file, ["clocksource", "probe", "--backend", "x"])).toEqual([]);
  });

  it.skipIf(!HAVE.zsh)("zsh: the script parses and defines the completion for every command", () => {
    const file = script("zsh");
    const r = spawnSync("zsh", ["-n", file], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const text = spawnSync(process.execPath, [CLI_BIN, "completion", "zsh"], { encoding: "utf8" }).stdout;
    expect(text.startsWith("#compdef clocksource\n")).toBe(true);
    for (const c of ["probe", "now", "convert", "kvm-mapping", "completion"]) expect(text).toMatch(new RegExp(`^    '${c}:`, "m"));
    expect(text).toContain("'--sysroot[probe the snapshot at DIR instead of this machine (like lscpu --sysroot)]:directory:_files -/'");
    expect(text).toContain("'*--plugin[");
    // Loaded into an interactive-less zsh with compinit, it registers itself for clocksource.
    const load = spawnSync("zsh", ["-f", "-c", `autoload -Uz compinit && compinit -u -D && source ${JSON.stringify(file)} && print -r -- $_comps[clocksource]`], { encoding: "utf8", cwd: tmp });
    expect(load.stderr).toBe("");
    expect(load.stdout.trim()).toBe("_clocksource");
  });

  it.skipIf(!HAVE.fish)("fish: the script parses, and fish completes commands and options with it", () => {
    const file = script("fish");
    expect(spawnSync("fish", ["--no-execute", file]).status).toBe(0);
    const complete = (line: string): string[] => {
      const r = spawnSync("fish", ["--no-config", "-c", `source ${JSON.stringify(file)}; complete -C ${JSON.stringify(line)}`], { encoding: "utf8", cwd: tmp });
      expect(r.stderr).toBe("");
      return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0] as string);
    };
    expect(complete("clocksource ")).toEqual(expect.arrayContaining(["probe", "now", "completion", "help"]));
    expect(complete("clocksource probe --sys")).toEqual(["--sysroot"]);
    expect(complete("clocksource completion ")).toEqual(expect.arrayContaining(["bash", "zsh", "fish"]));
  });
});
