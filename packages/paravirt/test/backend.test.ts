import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClockSelector, createClockContainer, DirectorySystemView, nanosecondConverter, RATING } from "@clocksource/core";
import {
  AGENT_TOKEN_ENV,
  agentTokenFileFor,
  estimateOffset,
  offsetAt,
  paravirtClockSource,
  probeAgentSync,
  register,
  type AgentProbe,
  type ParavirtClockSource,
  type ParavirtPolicy,
} from "../src/index.js";
import { floorDiv } from "../src/rational.js";
import { tempDir } from "./net-helpers.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGES = resolve(HERE, "../..");
const DIST = resolve(HERE, "../dist/index.js");

/**
 * The backend's probe runs `dist/sync-child.js` (plain node, which resolves
 * @clocksource/core to its dist too), even when vitest runs the sources. A
 * missing or stale build would test old code. `tsc -b` rewrites a project's
 * build info whenever it has checked sources newer than it (it may skip
 * re-emitting a file whose content did not change), so "built" means: the
 * outputs exist and the build info is not older than any source.
 */
function buildProblem(): string | null {
  const need = { paravirt: ["index.js", "sync-child.js"], core: ["index.js"] };
  for (const [pkg, outputs] of Object.entries(need)) {
    const root = join(PACKAGES, pkg);
    const info = join(root, "dist", "tsconfig.tsbuildinfo");
    for (const f of [...outputs.map((o) => join(root, "dist", o)), info]) {
      if (!existsSync(f)) return `packages/${pkg}/${relative(root, f)} is missing: run \`npx tsc -b\` (npm test builds first)`;
    }
    const built = statSync(info).mtimeMs;
    const src = join(root, "src");
    for (const f of readdirSync(src, { recursive: true, encoding: "utf8" })) {
      if (f.endsWith(".ts") && statSync(join(src, f)).mtimeMs > built) return `packages/${pkg}/src/${f} changed after the last build: run \`npx tsc -b\` (npm test builds first)`;
    }
  }
  return null;
}

const PROBLEM = buildProblem();
const CI = ["1", "true", "yes"].includes((process.env.CI ?? "").toLowerCase());
if (PROBLEM && !CI) console.warn(`skipping the paravirt backend tests that run the build: ${PROBLEM}`);

describe.runIf(CI)("the build the backend runs (CI)", () => {
  it("is present and not older than the sources", () => {
    expect(PROBLEM, PROBLEM ?? "").toBeNull();
  });
});

/** Ranks with only the policy given (no environment), on this machine. */
function selectorWith(agentEndpoint?: string, extra: Omit<ParavirtPolicy, "agentEndpoint"> = {}): ClockSelector {
  const policy: ParavirtPolicy = agentEndpoint ? { agentEndpoint, ...extra } : {};
  const c = createClockContainer({ view: new DirectorySystemView("/", true), env: {}, policy });
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

  it.skipIf(PROBLEM !== null)("is unusable when the agent does not answer, and the selector moves on", () => {
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
    const p = probeAgentSync("carrier-pigeon:1");
    expect(p).toMatchObject({ ok: false, endpoint: "carrier-pigeon:1" });
    expect((p as Extract<AgentProbe, { ok: false }>).reason).toMatch(/bad endpoint "carrier-pigeon:1": unknown scheme "carrier-pigeon"/);
  });
});

describe("the token file goes with the endpoint", () => {
  const env = { CLOCKSOURCE_AGENT: "unix:/run/a.sock", [AGENT_TOKEN_ENV]: "/etc/cs/token" };
  it("comes from the policy when it names one", () => {
    expect(agentTokenFileFor({ agentEndpoint: "unix:/x", agentTokenFile: "/p/token" }, env)).toBe("/p/token");
  });
  it("comes from the environment only for the environment's own endpoint", () => {
    expect(agentTokenFileFor({ agentEndpoint: "unix:/run/a.sock" }, env)).toBe("/etc/cs/token");
    expect(agentTokenFileFor({ agentEndpoint: "unix:/elsewhere.sock" }, env)).toBeUndefined();
    expect(agentTokenFileFor({ agentEndpoint: "unix:/run/a.sock" }, { [AGENT_TOKEN_ENV]: "/etc/cs/token" })).toBeUndefined();
    expect(agentTokenFileFor({}, env)).toBeUndefined();
  });
});

describe("the paravirt clock source converts host ticks exactly at any frequency", () => {
  // A session that found host = guest + 777 µs.
  const ex = Array.from({ length: 30 }, (_, i) => {
    const t1 = 10_000_000n + BigInt(i) * 1_000_000n;
    return { t1, t2: t1 + 777_000n + 5_000n, t2x: t1 + 777_000n + 6_000n, t3: t1 + 11_000n };
  });
  const estimate = estimateOffset(ex);
  const source = (hz: bigint, guest: bigint): ParavirtClockSource =>
    paravirtClockSource({ ok: true, endpoint: "unix:/x", estimate, hostDomain: "host.tsc", hostFrequencyHz: hz, version: 1, mappingAvailable: false }, () => guest);

  it("a 5 GHz host TSC (above the kernel's 32-bit mult/shift range): exact floor division", () => {
    const hz = 5_000_000_000n;
    const g = 50_000_000n;
    const src = source(hz, g);
    expect(src.frequencyHz).toBe(5e9);
    expect(src.now()).toBe(floorDiv((g + offsetAt(estimate, g)) * hz, 1_000_000_000n));
    expect(src.toNanoseconds(5_000_000_000n)).toBe(1_000_000_000n);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (t) => {
        expect(src.toNanoseconds(t)).toBe((t * 1_000_000_000n) / hz);
      }),
    );
  });

  it("up to 2^32−1 Hz it is core's kernel-style converter, bit for bit; 1 GHz is 1:1", () => {
    for (const hz of [3_000_000_000n, 0xffff_ffffn, 24_000_000n]) {
      const src = source(hz, 50_000_000n);
      const ref = nanosecondConverter(hz);
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (t) => {
          expect(src.toNanoseconds(t)).toBe(ref.toNanoseconds(t));
        }),
        { numRuns: 200 },
      );
    }
    expect(source(1_000_000_000n, 1n).toNanoseconds(123_456_789_012n)).toBe(123_456_789_012n);
  });
});

describe.skipIf(PROBLEM !== null)("paravirt backend with an agent in another process", () => {
  const t = tempDir();
  const sock = join(t.dir, "agent.sock");
  const tokenSock = join(t.dir, "token-agent.sock");
  const tokenFile = join(t.dir, "token");
  let child: ChildProcess;

  beforeAll(async () => {
    writeFileSync(tokenFile, "a-token-for-the-backend-test-0123\n", { mode: 0o600 });
    // The backend's synchronous probe blocks this process, so the agents must live in another.
    const script = `const m = await import(${JSON.stringify(DIST)});
      const a = new m.HostAgent(); await a.listen(m.parseEndpoint(${JSON.stringify(`unix:${sock}`)}));
      const b = new m.HostAgent({ token: m.loadTokenFile(${JSON.stringify(tokenFile)}).token }); await b.listen(m.parseEndpoint(${JSON.stringify(`unix:${tokenSock}`)}));
      process.stdout.write("ready\\n"); process.on("SIGTERM", async () => { await a.close(); await b.close(); process.exit(0); });`;
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

  it("authenticates with the policy's token file, and ignores this process's token variable for an endpoint it did not set", () => {
    const noToken = selectorWith(`unix:${tokenSock}`).rank().backends.find((b) => b.id === "paravirt");
    expect(noToken?.usable).toBe(false);
    expect(noToken?.reasons.join()).toMatch(/auth-failed/);
    const withToken = selectorWith(`unix:${tokenSock}`, { agentTokenFile: tokenFile }).rank().backends.find((b) => b.id === "paravirt");
    expect(withToken?.usable, withToken?.reasons.join()).toBe(true);

    const saved = process.env[AGENT_TOKEN_ENV];
    process.env[AGENT_TOKEN_ENV] = join(t.dir, "no-such-token");
    try {
      // The container was given no environment: the agent (no token) must still answer.
      const pv = selectorWith(`unix:${sock}`).rank().backends.find((b) => b.id === "paravirt");
      expect(pv?.usable, pv?.reasons.join()).toBe(true);
    } finally {
      if (saved === undefined) delete process.env[AGENT_TOKEN_ENV];
      else process.env[AGENT_TOKEN_ENV] = saved;
    }
  });
});
