import { spawn, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentClient, encodeError, encodeFrame, encodeTimeResponse, HostAgent, isAgentError, MSG, parseEndpoint, runSyncSession, type Estimate } from "../src/index.js";
import { delayingProxy, staleUnixSocket, tempDir, waitFor } from "./net-helpers.js";

/** The same machine: the true offset is 0. */
function containsZero(e: Estimate): void {
  expect(e.consistent).toBe(true);
  expect(e.lowNs <= 0n && 0n <= e.highNs).toBe(true);
  const err = e.offsetNs < 0n ? -e.offsetNs : e.offsetNs;
  expect(err <= e.errorBoundNs).toBe(true);
}

describe("sync over real sockets", () => {
  const tmp = tempDir();
  const logs: string[] = [];
  let agent: HostAgent;
  let unixPath: string;
  let tcpPort: number;

  beforeAll(async () => {
    agent = new HostAgent({ log: (l) => logs.push(l) });
    unixPath = join(tmp.dir, "agent.sock");
    const u = await agent.listen(parseEndpoint(`unix:${unixPath}`));
    expect(u.mode).toBe(0o600);
    const t = await agent.listen(parseEndpoint("tcp:127.0.0.1:0"));
    tcpPort = (t.endpoint as { port: number }).port;
  });
  afterAll(async () => {
    await agent.close();
    tmp.cleanup();
  });

  it("creates the Unix socket with mode 0600", () => {
    expect(statSync(unixPath).mode & 0o777).toBe(0o600);
  });

  it("same machine over a Unix socket: the bound contains the true offset 0", async () => {
    const client = await AgentClient.connect({ endpoint: `unix:${unixPath}` });
    try {
      const r = await runSyncSession(client, { samples: 120, intervalMs: 1 });
      expect(r.hostDomain).toBe("host.monotonic");
      expect(r.estimate.samplesValid).toBe(120);
      containsZero(r.estimate);
    } finally {
      client.close();
    }
  });

  it("same machine over TCP on loopback: the bound contains 0", async () => {
    const client = await AgentClient.connect({ endpoint: `tcp:127.0.0.1:${tcpPort}` });
    try {
      containsZero((await runSyncSession(client, { samples: 100, intervalMs: 0 })).estimate);
    } finally {
      client.close();
    }
  });

  it("behind a proxy that delays only the way to the agent, the bound still contains 0", async () => {
    const proxy = await delayingProxy({ host: "127.0.0.1", port: tcpPort }, 3);
    const client = await AgentClient.connect({ endpoint: `tcp:127.0.0.1:${proxy.port}` });
    try {
      const e = (await runSyncSession(client, { samples: 40, intervalMs: 0 })).estimate;
      containsZero(e);
      // Every request really waited in the proxy's delay timer (one request is
      // outstanding at a time, so each is its own chunk; HELLO is one more).
      expect(e.samplesValid).toBe(40);
      expect(proxy.delayedChunks).toBeGreaterThanOrEqual(41);
    } finally {
      client.close();
      await proxy.close();
    }
  });

  it("a client whose clock runs with a known offset and drift recovers both within the bound", async () => {
    // guest = host + O + (host − h0)·d, with d = +250 ppm, floored to whole ns.
    const O = -123_456_789_012n;
    const dPpm = 250n;
    const h0 = process.hrtime.bigint();
    const guest = () => {
      const h = process.hrtime.bigint();
      return h + O + ((h - h0) * dPpm) / 1_000_000n;
    };
    const client = await AgentClient.connect({ endpoint: `unix:${unixPath}`, clock: guest });
    try {
      const e = (await runSyncSession(client, { samples: 150, intervalMs: 2 })).estimate;
      expect(e.consistent).toBe(true);
      // Truth at guest time g: θ(g) = h − g where g = h + O + (h − h0)·d, i.e.
      // h = h0 + (g − O − h0) / (1 + d): θ = −O − (h − h0)·d. Compared ×1e6 to stay exact;
      // the guest clock's floor allows 1 ns more.
      const g = e.referenceGuestNs;
      const hMicro = h0 * 1_000_000n + ((g - O - h0) * 1_000_000n * 1_000_000n) / (1_000_000n + dPpm); // h × 1e6
      const thetaMicro = hMicro - g * 1_000_000n;
      const diff = thetaMicro - e.offsetNs * 1_000_000n;
      expect((diff < 0n ? -diff : diff) <= (e.errorBoundNs + 1n) * 1_000_000n).toBe(true);
      // dθ/dg = 1/(1 + d) − 1 = −d/(1 + d) ≈ −249.94 ppm
      const trueDriftPpm = -Number(dPpm) / (1 + Number(dPpm) / 1e6);
      expect(Math.abs(e.driftPpm - trueDriftPpm)).toBeLessThanOrEqual(e.driftBoundPpm + 0.01);
      expect(e.offsetNs < 0n ? -e.offsetNs : e.offsetNs).toBeGreaterThan(123_000_000_000n);
    } finally {
      client.close();
    }
  });

  it("serves the exact mapping when it has one, and says so when it has none", async () => {
    const withMapping = new HostAgent({ mapping: () => '{"schema":"clocksource.mapping/v1"}' });
    const path = join(tmp.dir, "m.sock");
    await withMapping.listen(parseEndpoint(`unix:${path}`));
    try {
      const c1 = await AgentClient.connect({ endpoint: `unix:${path}` });
      expect(c1.welcome.mappingAvailable).toBe(true);
      expect(await c1.fetchMapping()).toBe('{"schema":"clocksource.mapping/v1"}');
      c1.close();
      const c2 = await AgentClient.connect({ endpoint: `unix:${unixPath}` });
      expect(c2.welcome.mappingAvailable).toBe(false);
      expect(await c2.fetchMapping()).toBeNull();
      c2.close();
    } finally {
      await withMapping.close();
    }
  });

  it("a mapping larger than the client accepts (its HELLO) is refused with a clear, non-fatal error", async () => {
    const text = JSON.stringify({ schema: "clocksource.mapping/v1", pad: "x".repeat(5000) });
    const big = new HostAgent({ mapping: () => text });
    const path = join(tmp.dir, "big.sock");
    await big.listen(parseEndpoint(`unix:${path}`));
    try {
      const small = await AgentClient.connect({ endpoint: `unix:${path}`, maxPayloadBytes: 1000 });
      const e = await small.fetchMapping().catch((x: unknown) => x);
      expect(isAgentError(e, "server-error")).toBe(true);
      expect((e as Error).message).toMatch(new RegExp(`frame-too-large: the mapping response is ${text.length + 4} bytes, more than the 1000 bytes this client accepts`));
      // Not fatal: the session goes on.
      expect((await small.exchange()).t1).toBeGreaterThan(0n);
      small.close();
      const enough = await AgentClient.connect({ endpoint: `unix:${path}`, maxPayloadBytes: text.length + 4 });
      expect(await enough.fetchMapping()).toBe(text);
      enough.close();
    } finally {
      await big.close();
    }
  });

  it("over a line (a VMM chardev socket the agent connects to), successive guest sessions each sync, despite stale bytes both ways", async () => {
    // The "VMM": accepts the agent's connection (one long-lived line) and
    // relays each guest connection onto it, as a virtio-serial port would.
    let line: Socket | undefined;
    let guestsClosed = 0;
    const resets = () => logs.filter((l) => l.includes("resetting session")).length;
    const vmm: Server = createServer((s) => (line = s));
    const vmmPath = join(tmp.dir, "vmm.sock");
    await new Promise<void>((r) => vmm.listen(vmmPath, r));
    const guestSide: Server = createServer((g) => {
      const l = line as Socket;
      // Stale bytes a previous session left in the guest's port: garbage, an old answer, an old error.
      g.write(Buffer.concat([Buffer.from("stale bytes"), encodeFrame(MSG.timeResponse, 7, encodeTimeResponse({ t1: 1n, hostReceive: 2n, hostTransmit: 3n })), encodeFrame(MSG.error, 0, encodeError({ code: 7, fatal: true, minVersion: 1, maxVersion: 1, message: "old" }))]));
      const fwd = (c: Buffer) => g.write(c);
      l.on("data", fwd);
      g.on("data", (c: Buffer) => l.write(c));
      g.on("close", () => {
        l.off("data", fwd);
        guestsClosed++;
      });
      g.on("error", () => undefined);
    });
    const guestPath = join(tmp.dir, "port.sock");
    await new Promise<void>((r) => guestSide.listen(guestPath, r));
    const lineAgent = new HostAgent({ log: (l) => logs.push(l) });
    await lineAgent.connect(parseEndpoint(`unix:${vmmPath}`));
    try {
      for (let i = 0; i < 2; i++) {
        const c = await AgentClient.connect({ endpoint: `serial:${guestPath}` });
        expect(c.mode).toBe("line");
        containsZero((await runSyncSession(c, { samples: 20, intervalMs: 0 })).estimate);
        c.close();
        await waitFor(() => guestsClosed === i + 1, "the guest's port to close");
        // Stale garbage on the line between sessions: the agent resets that session.
        const before = resets();
        (line as Socket).write(Buffer.from("garbage from an earlier life\n"));
        await waitFor(() => resets() > before, "the agent to reset the line session on garbage");
      }
      const c = await AgentClient.connect({ endpoint: `serial:${guestPath}`, retries: 2 });
      containsZero((await runSyncSession(c, { samples: 20, intervalMs: 0 })).estimate);
      c.close();
      expect(logs.some((l) => l.includes("resetting session"))).toBe(true);
    } finally {
      await lineAgent.close();
      guestSide.close();
      vmm.close();
    }
  });
});

const HAVE_PYTHON = spawnSync("python3", ["-c", "import pty"], { stdio: "ignore" }).status === 0;
if (!HAVE_PYTHON) console.warn("skipping the character-device test: python3 (used to make a raw pty) is absent");

describe.skipIf(!HAVE_PYTHON)("serial line on a character device", () => {
  it("the agent serves a tty device as a line (a raw pty standing in for a virtio-serial port)", async () => {
    const tmp = tempDir();
    const relaySock = join(tmp.dir, "guest.sock");
    const relay = spawn("python3", [join(dirname(fileURLToPath(import.meta.url)), "pty-relay.py"), relaySock], { stdio: ["ignore", "pipe", "inherit"] });
    const agent = new HostAgent();
    try {
      const device = await new Promise<string>((res, rej) => {
        relay.stdout.once("data", (d: Buffer) => res(d.toString().trim()));
        relay.once("exit", (c) => rej(new Error(`pty relay exited ${c}`)));
      });
      expect(statSync(device).isCharacterDevice()).toBe(true);
      await agent.listen(parseEndpoint(`serial:${device}`));
      const c = await AgentClient.connect({ endpoint: `serial:${relaySock}` });
      const e = (await runSyncSession(c, { samples: 30, intervalMs: 0 })).estimate;
      expect(e.lowNs <= 0n && 0n <= e.highNs).toBe(true);
      c.close();
    } finally {
      await agent.close();
      relay.kill();
      tmp.cleanup();
    }
  });
});

describe("client failures are typed", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("no socket file: unreachable; a socket nobody listens on: connect-refused", async () => {
    const e1 = await AgentClient.connect({ endpoint: `unix:${join(tmp.dir, "none.sock")}`, retries: 0 }).catch((e: unknown) => e);
    expect(isAgentError(e1, "unreachable")).toBe(true);
    // A stale socket file (its process died) refuses for sure; a closed TCP
    // port could be taken again by anything on the machine meanwhile.
    const dead = join(tmp.dir, "dead.sock");
    staleUnixSocket(dead);
    const e2 = await AgentClient.connect({ endpoint: `unix:${dead}`, retries: 1 }).catch((e: unknown) => e);
    expect(isAgentError(e2, "connect-refused")).toBe(true);
    expect((e2 as Error).message).toMatch(/refused/);
  });

  it("a peer that never answers: timeout", async () => {
    const s = createServer(() => undefined);
    await new Promise<void>((r) => s.listen({ host: "127.0.0.1", port: 0 }, r));
    const port = (s.address() as { port: number }).port;
    try {
      const e = await AgentClient.connect({ endpoint: `tcp:127.0.0.1:${port}`, timeoutMs: 150, retries: 0 }).catch((x: unknown) => x);
      expect(isAgentError(e, "timeout")).toBe(true);
    } finally {
      s.close();
    }
  });

  it("a peer that is not an agent: protocol", async () => {
    const s = createServer((c) => c.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((r) => s.listen({ host: "127.0.0.1", port: 0 }, r));
    const port = (s.address() as { port: number }).port;
    try {
      const e = await AgentClient.connect({ endpoint: `tcp:127.0.0.1:${port}`, timeoutMs: 500, retries: 0 }).catch((x: unknown) => x);
      expect(isAgentError(e, "protocol")).toBe(true);
    } finally {
      s.close();
    }
  });

  it("no common version: version-mismatch, said politely by the agent", async () => {
    const agent = new HostAgent();
    const path = join(tmp.dir, "v.sock");
    await agent.listen(parseEndpoint(`unix:${path}`));
    try {
      const e = await AgentClient.connect({ endpoint: `unix:${path}`, versions: { min: 2, max: 3 }, retries: 0 }).catch((x: unknown) => x);
      expect(isAgentError(e, "version-mismatch")).toBe(true);
      expect((e as Error).message).toMatch(/no common protocol version.*1\.\.1/);
    } finally {
      await agent.close();
    }
  });
});
