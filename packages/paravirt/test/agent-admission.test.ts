import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentClient, encodeFrame, encodeHello, HandshakePool, HostAgent, MSG, parseEndpoint, runSyncSession, sourceOf } from "../src/index.js";
import { collectUntilClose, connectRaw, tempDir, waitFor } from "./net-helpers.js";

const TOKEN = Buffer.from("admission-test-token-of-32-bytes!!");
const FLOODER = fileURLToPath(new URL("./flooder.mjs", import.meta.url));

interface Flood {
  readonly child: ChildProcess;
  /** Stops the flood; resolves with its counts. */
  stop(): Promise<{ made: number; closed: number; failed: number }>;
}

/** Starts a flood of `connections` sockets in another process and waits until all were made once. */
async function flood(target: { host: string; port: number } | { path: string }, connections: number, mode: "silent" | "hello", localAddress?: string): Promise<Flood> {
  const child = spawn(process.execPath, [FLOODER, JSON.stringify({ target, connections, mode, localAddress })], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitFor(() => /ready/.test(out) || child.exitCode !== null, `the flood of ${connections} connections (${err})`, 30_000);
  if (child.exitCode !== null) throw new Error(`the flooder exited: ${err}`);
  return {
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      const last = out.trim().split("\n").pop() ?? "{}";
      return JSON.parse(last.startsWith("{") ? last : "{}");
    },
  };
}

describe("admission: unauthenticated connections cannot starve authenticated work", () => {
  const tmp = tempDir();
  const logs: string[] = [];
  let agent: HostAgent;
  let port: number;
  let path: string;

  beforeAll(async () => {
    // The defaults: 512 sessions, 256 handshakes (shed beyond), 500 ms grace, 5 s handshake deadline.
    agent = new HostAgent({ token: TOKEN, log: (l) => logs.push(l) });
    port = ((await agent.listen(parseEndpoint("tcp:127.0.0.1:0"))).endpoint as { port: number }).port;
    path = join(tmp.dir, "a.sock");
    await agent.listen(parseEndpoint(`unix:${path}`));
  });
  afterAll(async () => {
    await agent.close();
    tmp.cleanup();
  });

  async function authenticatedSync(endpoint: string): Promise<void> {
    // No retries: the first try must get through.
    const c = await AgentClient.connect({ endpoint, token: TOKEN, retries: 0, timeoutMs: 5000, connectTimeoutMs: 5000 });
    try {
      const e = (await runSyncSession(c, { samples: 10, intervalMs: 0 })).estimate;
      expect(e.samplesValid).toBe(10);
    } finally {
      c.close();
    }
  }

  for (const [name, mode] of [
    ["TCP, 512 silent connections reconnecting as they are dropped", "silent"],
    ["TCP, 512 connections that say HELLO and never prove the token", "hello"],
    ["Unix socket, 512 silent connections", "silent"],
  ] as const) {
    it(`${name}: an authenticated guest syncs 3 times out of 3, and an established session keeps being served`, async () => {
      const unix = name.startsWith("Unix");
      const endpoint = unix ? `unix:${path}` : `tcp:127.0.0.1:${port}`;
      const before = await AgentClient.connect({ endpoint, token: TOKEN, retries: 0 });
      const shedBefore = agent.admission.shed;
      const f = await flood(unix ? { path } : { host: "127.0.0.1", port }, 512, mode);
      let counts;
      try {
        // Let the flood reach its steady state: the agent sheds, the flood reconnects.
        await waitFor(() => agent.admission.shed - shedBefore >= 256, "the agent to shed flood connections", 30_000);
        for (let i = 0; i < 3; i++) await authenticatedSync(endpoint);
        // A session through its handshake is never shed for a newcomer.
        expect((await before.exchange()).t3).toBeGreaterThan(0n);
        // Memory stays bounded: never more than 4 × 256 handshaking connections.
        expect(agent.admission.handshaking).toBeLessThanOrEqual(1024);
      } finally {
        before.close();
        counts = await f.stop();
      }
      // The flood kept coming back: reconnects beyond the first 512 (on a busy machine a Unix
      // socket's backlog refuses some of them, which still counts as an attempt).
      expect(counts.closed).toBeGreaterThan(0);
      expect(counts.made + counts.failed).toBeGreaterThan(512);
      // The log summarises instead of writing a line per shed connection.
      await waitFor(() => agent.admission.handshaking === 0, "the flood's connections to go", 20_000);
    }, 90_000);
  }

  it("a flood from one address never sheds a slow guest from another address", async () => {
    // Its own agent: a long handshake deadline, so only shedding could drop the slow guest.
    const own = new HostAgent({ token: TOKEN, handshakeTimeoutMs: 120_000 });
    const ownPort = ((await own.listen(parseEndpoint("tcp:127.0.0.1:0"))).endpoint as { port: number }).port;
    const f = await flood({ host: "127.0.0.1", port: ownPort }, 1500, "silent", "127.0.0.1");
    try {
      // The guest's connection says nothing for longer than the grace period, while
      // the flood keeps the pool beyond even its hard limit (1024).
      const s = await connectRaw({ host: "127.0.0.1", port: ownPort, localAddress: "127.0.0.2" } as never);
      const frames: number[] = [];
      const done = collectUntilClose(s, (fr) => frames.push(fr.type));
      await new Promise((r) => setTimeout(r, 600));
      const shed0 = own.admission.shed;
      await waitFor(() => own.admission.shed - shed0 >= 500, "the flood to be shed heavily", 60_000);
      s.write(encodeFrame(MSG.hello, 1, encodeHello({ minVersion: 1, maxVersion: 1, maxPayloadBytes: 4096, clientNonce: randomBytes(16) })));
      await waitFor(() => frames.length > 0 || s.destroyed, "the WELCOME");
      expect(frames[0]).toBe(MSG.welcome);
      s.destroy();
      await done;
    } finally {
      await f.stop();
      await own.close();
    }
  }, 120_000);

  it("logs a flood in a few lines with a summary, not a line per connection", async () => {
    expect(agent.admission.shed).toBeGreaterThan(700);
    const shedLines = logs.filter((l) => /: shed: agent busy/.test(l)).length;
    expect(shedLines).toBeLessThan(100);
    await agent.close();
    expect(logs.some((l) => /^shed handshaking connection: … and \d+ more in the last \d+ s$/.test(l))).toBe(true);
  });
});

describe("HandshakePool", () => {
  const limits = { soft: 3, hard: 6, graceMs: 100 };

  it("sheds nothing within the soft limit or within the grace period", () => {
    const p = new HandshakePool<string>(limits);
    for (const x of ["a", "b", "c"]) p.add(x, "s", 0);
    expect(p.nextVictim(1000)).toBeNull();
    p.add("d", "s", 0);
    expect(p.nextVictim(50)).toBeNull();
    expect(p.nextVictim(100)).toBe("a");
  });

  it("sheds silent connections before those that said HELLO, oldest first", () => {
    const p = new HandshakePool<string>(limits);
    for (const [x, t] of [["a", 0], ["b", 1], ["c", 2], ["d", 3]] as const) p.add(x, "s", t);
    p.markSpoke("a");
    p.markSpoke("b");
    expect(p.nextVictim(500)).toBe("c");
    p.delete("c");
    p.add("e", "s", 420);
    expect(p.nextVictim(500)).toBe("d");
    p.delete("d");
    p.add("f", "s", 450);
    // Silent e and f are within their grace; the oldest that spoke goes.
    expect(p.nextVictim(500)).toBe("a");
  });

  it("sheds only from the source holding the most, and past the hard limit whatever the age", () => {
    const p = new HandshakePool<string>(limits);
    p.add("guest", "10.0.0.9", 0);
    for (let i = 0; i < 6; i++) p.add(`x${i}`, "10.0.0.1", 1000 + i);
    // Seven waiting (> hard 6): shed even within the grace, from the heavy source.
    expect(p.nextVictim(1001)).toBe("x0");
    p.delete("x0");
    // Back to six (≤ hard): the flood's connections are in their grace; the old guest is not touched.
    expect(p.nextVictim(1001)).toBeNull();
    expect(p.nextVictim(2000)).toBe("x1");
    expect([...p.countsBySource()]).toEqual([["10.0.0.9", 1], ["10.0.0.1", 5]]);
  });

  it("knows where connections come from", () => {
    expect(sourceOf("192.0.2.7", "tcp:x")).toBe("192.0.2.7");
    expect(sourceOf("::ffff:192.0.2.7", "tcp:x")).toBe("192.0.2.7");
    expect(sourceOf("2001:db8:1:2:3:4:5:6", "tcp:x")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("2001:db8::1", "tcp:x")).toBe("2001:db8:0:0::/64");
    expect(sourceOf("::1", "tcp:x")).toBe("0:0:0:0::/64");
    expect(sourceOf(undefined, "unix:/run/a.sock")).toBe("unix:/run/a.sock");
  });
});
