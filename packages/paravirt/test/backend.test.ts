import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClockSelector, createClockContainer, DirectorySystemView, RATING } from "@clocksource/core";
import { probeAgentSync, register, type ParavirtClockSource } from "../src/index.js";
import { tempDir } from "./net-helpers.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(HERE, "../dist/index.js");
const BUILT = existsSync(DIST) && existsSync(resolve(HERE, "../dist/sync-child.js"));
if (!BUILT) console.warn("skipping backend tests that need the build: run `npx tsc -b` first");

/** Ranks with only the policy given (no environment), on this machine. */
function selectorWith(agentEndpoint?: string): ClockSelector {
  const c = createClockContainer({ view: new DirectorySystemView("/", true), env: {}, policy: agentEndpoint ? { agentEndpoint } : {} });
  register(c);
  return c.resolve(ClockSelector);
}

describe("paravirt backend without an agent", () => {
  it("is unusable when no endpoint is configured, and says how to configure one", () => {
    const r = selectorWith().rank();
    const pv = r.backends.find((b) => b.id === "paravirt");
    expect(pv?.usable).toBe(false);
    expect(pv?.mapping).toBe("estimated");
    expect(pv?.reasons.join()).toMatch(/CLOCKSOURCE_AGENT/);
  });

  it.skipIf(!BUILT)("is unusable when the agent does not answer, and the selector moves on", () => {
    const t = tempDir();
    try {
      const r = selectorWith(`unix:${join(t.dir, "nobody.sock")}`).rank();
      const pv = r.backends.find((b) => b.id === "paravirt");
      expect(pv?.usable).toBe(false);
      expect(pv?.reasons.join()).toMatch(/did not answer: unreachable/);
      expect(r.selected?.id).not.toBe("paravirt");
      expect(r.selected).not.toBeNull();
    } finally {
      t.cleanup();
    }
  });

  it("reports a malformed endpoint as the reason", () => {
    expect(probeAgentSync("carrier-pigeon:1")).toMatchObject({ ok: false });
  });
});

describe.skipIf(!BUILT)("paravirt backend with an agent in another process", () => {
  const t = tempDir();
  const sock = join(t.dir, "agent.sock");
  let child: ChildProcess;

  beforeAll(async () => {
    // The backend's synchronous probe blocks this process, so the agent must live in another.
    const script = `const m = await import(${JSON.stringify(DIST)});
      const a = new m.HostAgent(); await a.listen(m.parseEndpoint(${JSON.stringify(`unix:${sock}`)}));
      process.stdout.write("ready\\n"); process.on("SIGTERM", async () => { await a.close(); process.exit(0); });`;
    child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((res, rej) => {
      child.stdout?.once("data", () => res());
      child.once("exit", (c) => rej(new Error(`agent exited ${c}`)));
    });
  });
  afterAll(() => {
    child.kill("SIGTERM");
    t.cleanup();
  });

  it("is usable, rated as the paravirtual estimate, and its clock reads host time within its bound", () => {
    const sel = selectorWith(`unix:${sock}`);
    const r = sel.rank();
    const pv = r.backends.find((b) => b.id === "paravirt");
    expect(pv?.usable).toBe(true);
    expect(pv?.rating).toBe(RATING.paravirtual);
    expect(pv?.reasons.join()).toMatch(/answered \(protocol v1, host clock host\.monotonic\)/);
    const selection = sel.select({ prefer: ["paravirt"] });
    expect(selection.selected.id).toBe("paravirt");
    const src = selection.source as ParavirtClockSource;
    expect(src.domain.name).toBe("host.monotonic");
    // Same machine: host time is our own monotonic time, so the truth is known.
    const before = process.hrtime.bigint();
    const v = src.now();
    const after = process.hrtime.bigint();
    const bound = src.errorBoundNs(after);
    expect(v + bound >= before && v - bound <= after).toBe(true);
    expect(src.estimate.samplesValid).toBeGreaterThan(0);
    expect(src.errorBoundNs(src.estimate.referenceGuestNs)).toBe(src.estimate.errorBoundNs);
  });
});
