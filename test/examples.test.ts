import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/fixtures.js";
import { spawnSync } from "node:child_process";

const EXAMPLE = join(REPO_ROOT, "examples/custom-backend");
const CLI = join(REPO_ROOT, "packages/cli/bin/clocksource.cjs");

/** Every TypeScript block of the guide, with the example file named in the `<!-- example: … -->` line above it. */
function guideBlocks(): { file: string; code: string }[] {
  const guide = readFileSync(join(REPO_ROOT, "docs/writing-a-backend.md"), "utf8");
  return [...guide.matchAll(/(?:<!-- example: (\S+) -->\n)?```ts\n([\s\S]*?)```/g)].map((m) => ({ file: m[1] ?? "(no example named)", code: m[2] as string }));
}

describe("the custom-backend guide and example", () => {
  it("shows exactly the example's code in every TypeScript block of the guide", () => {
    const blocks = guideBlocks();
    expect(blocks.map((b) => b.file)).toEqual(["src/microsecond-backend.ts", "src/main.ts", "src/injectable-backend.ts", "src/main-decorators.ts", "src/plugin.ts"]);
    for (const b of blocks) expect(b.code, b.file).toBe(readFileSync(join(EXAMPLE, b.file), "utf8"));
  });

  it("runs with the factory registration, selecting the custom backend with its reasons", () => {
    const r = spawnSync(process.execPath, [join(EXAMPLE, "dist/main.js")], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\* microsecond-monotonic rating 110: kernel clocksource /m);
    expect(r.stdout).toMatch(/microsecond-monotonic selected/);
    const m = /now: (\d+) ticks of host\.monotonic-us = (\d+) ns/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(BigInt(m![2]!)).toBe(BigInt(m![1]!) * 1000n);
  });

  it("says why it is unusable on a snapshot (the injected system view is not live)", () => {
    const snap = join(REPO_ROOT, "packages/core");
    const r = spawnSync(process.execPath, [join(EXAMPLE, "dist/main.js"), snap], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`  microsecond-monotonic rating 0: ${snap} is a snapshot: this process's clock is not that machine's`);
    expect(r.stdout).toMatch(/^\* os-monotonic /m);
  });

  it("runs with the decorator registration (tsyringe builds the class and injects the view)", () => {
    const r = spawnSync(process.execPath, [join(EXAMPLE, "dist/main-decorators.js")], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^microsecond-monotonic selected: kernel clocksource /);
  });

  it("appears in clocksource probe's ranking as a --plugin and through CLOCKSOURCE_PLUGINS", () => {
    for (const [args, env] of [
      [["probe", "--plugin", "./examples/custom-backend/dist/plugin.js"], {}],
      [["probe", "--json"], { CLOCKSOURCE_PLUGINS: join(EXAMPLE, "dist/plugin.js") }],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: REPO_ROOT, timeout: 60_000, env: { ...process.env, ...env } });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      if ((args as readonly string[]).includes("--json")) {
        const report = JSON.parse(r.stdout) as { backends: { id: string; rating: number }[]; selected: string; runtime: { plugins: { path: string }[] } };
        expect(report.backends.find((b) => b.id === "microsecond-monotonic")?.rating).toBe(110);
        expect(report.runtime.plugins.map((p) => p.path)).toEqual([join(EXAMPLE, "dist/plugin.js")]);
      } else {
        expect(r.stdout).toMatch(/^ {2}[* ] microsecond-monotonic +rating 110 {2}usable; mapping none$/m);
        expect(r.stdout).toContain(`plugins              ./examples/custom-backend/dist/plugin.js (${join(EXAMPLE, "dist/plugin.js")})`);
      }
    }
  });
});
