import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/fixtures.js";
import { spawnSync } from "node:child_process";

const EXAMPLE = join(REPO_ROOT, "examples/custom-backend");

describe("the custom-backend guide and example", () => {
  it("shows exactly the example's code in every code block of the guide", () => {
    const guide = readFileSync(join(REPO_ROOT, "docs/writing-a-backend.md"), "utf8");
    const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBe(2);
    const sources = ["src/microsecond-backend.ts", "src/main.ts"].map((f) => readFileSync(join(EXAMPLE, f), "utf8"));
    blocks.forEach((block, i) => expect(block).toBe(sources[i]));
  });

  it("runs, selecting the custom backend with its reasons", () => {
    const r = spawnSync(process.execPath, [join(EXAMPLE, "dist/main.js")], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\* microsecond-monotonic rating 110: kernel clocksource /m);
    expect(r.stdout).toMatch(/microsecond-monotonic selected/);
    const m = /now: (\d+) ticks of host\.monotonic-us = (\d+) ns/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(BigInt(m![2]!)).toBe(BigInt(m![1]!) * 1000n);
  });
});
