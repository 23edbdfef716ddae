import { randomBytes } from "node:crypto";
import { existsSync, lstatSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentClient,
  encodeFrame,
  encodeHello,
  encodeTimeRequest,
  ERROR_CODE,
  HostAgent,
  isAgentError,
  isLoopbackHost,
  literalTcpHost,
  monotonicHostClock,
  MSG,
  ABSOLUTE_MAX_PAYLOAD,
  parseEndpoint,
  runSyncSession,
  type Frame,
  type HostClock,
} from "../src/index.js";
import { isClocksourceError } from "@clocksource/core";
import { collectUntilClose, connectRaw, delayingProxy, staleUnixSocket, tempDir, waitFor } from "./net-helpers.js";

const TOKEN = Buffer.from("a-shared-secret-of-32-bytes-long!");

function helloFrame(seq = 1): Buffer {
  return encodeFrame(MSG.hello, seq, encodeHello({ minVersion: 1, maxVersion: 1, maxPayloadBytes: 4096, clientNonce: randomBytes(16) }));
}

/** A raw session past its HELLO: the socket once WELCOME arrived, and what it receives until it closes. */
async function welcomedSession(path: string): Promise<{ s: Socket; done: ReturnType<typeof collectUntilClose> }> {
  const s = await connectRaw({ path });
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  const done = collectUntilClose(s, (f: Frame) => f.type === MSG.welcome && welcomed());
  s.write(helloFrame());
  await welcome;
  return { s, done };
}

describe("the agent holds", () => {
  const tmp = tempDir();
  const logs: string[] = [];
  let agent: HostAgent;
  let tokenAgent: HostAgent;
  let path: string;
  let tokenPath: string;
  let tokenTcpPort: number;

  beforeAll(async () => {
    // Short limits so the slow-client cases finish quickly.
    agent = new HostAgent({ frameTimeoutMs: 1200, handshakeTimeoutMs: 3000, idleTimeoutMs: 3000, log: (l) => logs.push(l) });
    path = join(tmp.dir, "a.sock");
    await agent.listen(parseEndpoint(`unix:${path}`));
    tokenAgent = new HostAgent({ token: TOKEN, log: (l) => logs.push(l) });
    tokenPath = join(tmp.dir, "t.sock");
    await tokenAgent.listen(parseEndpoint(`unix:${tokenPath}`));
    tokenTcpPort = ((await tokenAgent.listen(parseEndpoint("tcp:127.0.0.1:0"))).endpoint as { port: number }).port;
  });
  afterAll(async () => {
    await agent.close();
    await tokenAgent.close();
    tmp.cleanup();
  });

  async function goodClientSyncs(where = path): Promise<void> {
    const c = await AgentClient.connect({ endpoint: `unix:${where}`, token: where === tokenPath ? TOKEN : null });
    try {
      const e = (await runSyncSession(c, { samples: 20, intervalMs: 0 })).estimate;
      expect(e.lowNs <= 0n && 0n <= e.highNs).toBe(true);
    } finally {
      c.close();
    }
  }

  it("random bytes: an error frame, that connection closed, a log line", async () => {
    const s = await connectRaw({ path });
    const done = collectUntilClose(s);
    const junk = randomBytes(4096);
    junk[0] = 0x00; // not the magic
    s.write(junk);
    const { errors } = await done;
    expect(errors[0]?.code).toBe(ERROR_CODE.badFrame);
    expect(errors[0]?.fatal).toBe(true);
    expect(logs.some((l) => /closing: bad-frame: not a frame/.test(l))).toBe(true);
    await goodClientSyncs();
  });

  it("a huge length prefix: refused from the header, before any payload", async () => {
    const s = await connectRaw({ path });
    const done = collectUntilClose(s);
    const f = helloFrame();
    f.writeUInt32BE(0xfffffff0, 12);
    s.write(f.subarray(0, 16));
    const { errors } = await done;
    expect(errors[0]?.code).toBe(ERROR_CODE.frameTooLarge);
    expect(errors[0]?.message).toMatch(/4294967280 bytes exceeds the limit of 4096/);
    await goodClientSyncs();
  });

  it("a truncated frame left hanging: closed with a timeout error", async () => {
    const s = await connectRaw({ path });
    const done = collectUntilClose(s);
    s.write(helloFrame().subarray(0, 20));
    const { errors } = await done;
    expect(errors[0]?.code).toBe(ERROR_CODE.timeout);
    expect(errors[0]?.message).toMatch(/not completed within 1200 ms/);
    await goodClientSyncs();
  });

  it("a client that sends one byte a second: closed, while others are served meanwhile", async () => {
    const s = await connectRaw({ path });
    const done = collectUntilClose(s);
    const frame = helloFrame();
    let i = 0;
    const drip = setInterval(() => {
      if (!s.destroyed && i < frame.length) s.write(frame.subarray(i, ++i));
    }, 1000);
    s.write(frame.subarray(0, ++i));
    await goodClientSyncs(); // served while the slow one drips
    const { errors } = await done;
    clearInterval(drip);
    expect(errors[0]?.code).toBe(ERROR_CODE.timeout);
    expect(i).toBeLessThan(frame.length);
  });

  it("a frame of the wrong kind, or an unknown version, is refused politely", async () => {
    const s1 = await connectRaw({ path });
    const d1 = collectUntilClose(s1);
    s1.write(encodeFrame(MSG.timeRequest, 5, encodeTimeRequest(1n)));
    expect((await d1).errors[0]?.code).toBe(ERROR_CODE.unexpectedMessage);

    const s2 = await connectRaw({ path });
    const d2 = collectUntilClose(s2);
    s2.write(helloFrame(1));
    s2.write(encodeFrame(MSG.timeRequest, 2, encodeTimeRequest(1n), 9));
    const r2 = await d2;
    expect(r2.frames[0]?.type).toBe(MSG.welcome);
    expect(r2.errors[0]?.code).toBe(ERROR_CODE.versionUnsupported);
    expect(r2.errors[0]?.message).toMatch(/version 9 is not supported.*1\.\.1/);
    expect([r2.errors[0]?.minVersion, r2.errors[0]?.maxVersion]).toEqual([1, 1]);
  });

  it("200 concurrent clients are all served", async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => AgentClient.connect({ endpoint: `unix:${path}`, timeoutMs: 5000 })));
    try {
      expect(agent.sessionCount).toBeGreaterThanOrEqual(200);
      const results = await Promise.all(clients.map(async (c) => [await c.exchange(), await c.exchange(), await c.exchange()]));
      for (const r of results) for (const x of r) expect(x.t1 <= x.t3 && x.t2 <= x.t2x).toBe(true);
    } finally {
      for (const c of clients) c.close();
    }
    await goodClientSyncs();
  });

  it("beyond the connection limit: a busy error frame for the extra one only", async () => {
    const small = new HostAgent({ maxConnections: 2 });
    const p = join(tmp.dir, "small.sock");
    await small.listen(parseEndpoint(`unix:${p}`));
    try {
      const a = await AgentClient.connect({ endpoint: `unix:${p}` });
      const b = await AgentClient.connect({ endpoint: `unix:${p}` });
      const e = await AgentClient.connect({ endpoint: `unix:${p}`, retries: 0 }).catch((x: unknown) => x);
      expect(isAgentError(e, "server-error")).toBe(true);
      expect((e as Error).message).toMatch(/busy/);
      await a.exchange();
      await b.exchange();
      a.close();
      b.close();
    } finally {
      await small.close();
    }
  });

  it("over the rate limit: that session is cut with rate-limited", async () => {
    const limited = new HostAgent({ rateLimitPerSecond: 20 });
    const p = join(tmp.dir, "rate.sock");
    await limited.listen(parseEndpoint(`unix:${p}`));
    try {
      const c = await AgentClient.connect({ endpoint: `unix:${p}` });
      let err: unknown;
      for (let i = 0; i < 40 && !err; i++) await c.exchange().catch((e: unknown) => (err = e));
      expect(isAgentError(err, "server-error")).toBe(true);
      expect((err as Error).message).toMatch(/rate-limited/);
      // A client that paces itself (runSyncSession honours the announced limit) is fine.
      const paced = await AgentClient.connect({ endpoint: `unix:${p}` });
      expect((await runSyncSession(paced, { samples: 8, intervalMs: 0 })).estimate.samplesValid).toBe(8);
      paced.close();
    } finally {
      await limited.close();
    }
  });

  it("tokens: wrong, missing, or given to an agent without one are refused; the right one works", async () => {
    const wrong = await AgentClient.connect({ endpoint: `unix:${tokenPath}`, token: Buffer.from("not-the-right-secret-at-all-....."), retries: 0 }).catch((e: unknown) => e);
    expect(isAgentError(wrong, "auth-failed")).toBe(true);
    expect(logs.some((l) => /auth-failed: authentication failed: wrong token/.test(l))).toBe(true);
    const missing = await AgentClient.connect({ endpoint: `unix:${tokenPath}`, retries: 0 }).catch((e: unknown) => e);
    expect(isAgentError(missing, "auth-failed")).toBe(true);
    expect((missing as Error).message).toMatch(/requires a token/);
    const unexpected = await AgentClient.connect({ endpoint: `unix:${path}`, token: TOKEN, retries: 0 }).catch((e: unknown) => e);
    expect(isAgentError(unexpected, "auth-failed")).toBe(true);
    await goodClientSyncs(tokenPath);
  });

  it("the token never crosses the wire", async () => {
    const proxy = await delayingProxy({ host: "127.0.0.1", port: tokenTcpPort }, 0);
    try {
      const c = await AgentClient.connect({ endpoint: `tcp:127.0.0.1:${proxy.port}`, token: TOKEN });
      await c.exchange();
      c.close();
      await waitFor(() => proxy.closedConnections === 1, "the relayed connection to close");
      const wire = Buffer.concat(proxy.bytes);
      expect(wire.length).toBeGreaterThan(100);
      expect(wire.includes(TOKEN)).toBe(false);
      expect(wire.includes(TOKEN.subarray(0, 8))).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it("refuses a non-loopback TCP address without a token, to listen on or to connect to", async () => {
    const a = new HostAgent();
    await expect(a.listen(parseEndpoint("tcp:0.0.0.0:0"))).rejects.toThrow(/refusing to listen on tcp:0\.0\.0\.0:0 without a token/);
    // Refused before any connection is tried (192.0.2.0/24 is TEST-NET-1).
    await expect(a.connect(parseEndpoint("tcp:192.0.2.1:7900"))).rejects.toThrow(/refusing to connect to tcp:192\.0\.2\.1:7900 without a token/);
    // A name is not trusted to resolve to loopback, whatever it is.
    await expect(a.listen(parseEndpoint("tcp:loopback.example:0"))).rejects.toThrow(/without a token/);
    await a.close();
    // With a token, or the explicit opt-in, the same address is allowed. (Connecting
    // to 0.0.0.0 reaches this machine, yet the address is not loopback.)
    const vmm = createServer((sock) => sock.on("error", () => undefined));
    await new Promise<void>((r) => vmm.listen({ host: "0.0.0.0", port: 0 }, r));
    const ep = parseEndpoint(`tcp:0.0.0.0:${(vmm.address() as { port: number }).port}`);
    const agents = [new HostAgent({ token: TOKEN }), new HostAgent({ allowRemoteWithoutToken: true }), new HostAgent()];
    try {
      await agents[0]?.connect(ep);
      await agents[1]?.connect(ep);
      await expect(agents[2]?.connect(ep)).rejects.toThrow(/refusing to connect to tcp:0\.0\.0\.0:\d+ without a token/);
    } finally {
      for (const x of agents) await x.close();
      await new Promise<void>((r) => vmm.close(() => r()));
    }
  });

  it("`localhost` binds the literal 127.0.0.1; only literal loopback addresses count as loopback", async () => {
    const a = new HostAgent();
    try {
      const info = await a.listen(parseEndpoint("tcp:localhost:0"));
      expect(info.endpoint).toMatchObject({ kind: "tcp", host: "127.0.0.1" });
    } finally {
      await a.close();
    }
    expect(literalTcpHost("LocalHost")).toBe("127.0.0.1");
    expect(literalTcpHost("10.1.2.3")).toBe("10.1.2.3");
    for (const h of ["127.0.0.1", "127.200.3.4", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.2"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["localhost", "127.999.0.1", "127.0.0.1.example", "10.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1", "::2"]) expect(isLoopbackHost(h), h).toBe(false);
  });

  it("refuses limits the protocol cannot carry, with a typed error", () => {
    for (const maxPayloadBytes of [0, -1, 1.5, ABSOLUTE_MAX_PAYLOAD + 1, 2 ** 32]) {
      let err: unknown;
      try {
        new HostAgent({ maxPayloadBytes });
      } catch (e) {
        err = e;
      }
      expect(isClocksourceError(err, "INVALID_ARGUMENT"), String(maxPayloadBytes)).toBe(true);
      expect((err as Error).message).toMatch(/maxPayloadBytes must be a whole number in 1\.\.16777216/);
    }
    expect(() => new HostAgent({ rateLimitPerSecond: 2 ** 32 })).toThrow(/rateLimitPerSecond must be/);
  });

  it("the largest allowed --max-frame is announced as is and a HELLO is answered", async () => {
    const a = new HostAgent({ maxPayloadBytes: ABSOLUTE_MAX_PAYLOAD, rateLimitPerSecond: 0xffff_ffff });
    const p = join(tmp.dir, "max.sock");
    await a.listen(parseEndpoint(`unix:${p}`));
    try {
      const c = await AgentClient.connect({ endpoint: `unix:${p}` });
      expect(c.welcome.maxPayloadBytes).toBe(ABSOLUTE_MAX_PAYLOAD);
      expect(c.welcome.rateLimitPerSecond).toBe(0xffff_ffff);
      c.close();
    } finally {
      await a.close();
    }
  });

  it("an internal failure tells an unauthenticated peer nothing but that it happened; the details go to the log", async () => {
    let calls = 0;
    // Calls: 1 = HELLO's receive stamp, 2 = the request's receive stamp, 3 = its transmit stamp.
    const clock: HostClock = {
      ...monotonicHostClock,
      now: () => {
        if (++calls === 3) throw new Error("secret detail: /var/lib/host-only/path");
        return process.hrtime.bigint();
      },
    };
    const own: string[] = [];
    const a = new HostAgent({ clock, log: (l) => own.push(l), mapping: () => { throw new Error("EACCES: /etc/secret-mapping.json"); } });
    const p = join(tmp.dir, "internal.sock");
    await a.listen(parseEndpoint(`unix:${p}`));
    try {
      const { s, done } = await welcomedSession(p);
      s.write(encodeFrame(MSG.timeRequest, 2, encodeTimeRequest(1n)));
      const { errors } = await done;
      expect(errors[0]?.code).toBe(ERROR_CODE.internal);
      expect(errors[0]?.message).toBe("internal error in the agent (details are in its log)");
      expect(own.some((l) => /internal error answering a time-request frame: secret detail/.test(l))).toBe(true);

      const c = await AgentClient.connect({ endpoint: `unix:${p}` });
      const m = await c.fetchMapping().catch((x: unknown) => x);
      expect((m as Error).message).toMatch(/internal: the mapping cannot be served now/);
      expect((m as Error).message).not.toMatch(/secret/);
      expect(own.some((l) => /the mapping file cannot be read: EACCES: \/etc\/secret-mapping\.json/.test(l))).toBe(true);
      c.close();
    } finally {
      await a.close();
    }
  });

  it("a peer that proved the token reads the details of a failure", async () => {
    const a = new HostAgent({ token: TOKEN, mapping: () => { throw new Error("EACCES: /etc/mapping.json"); } });
    const p = join(tmp.dir, "internal-auth.sock");
    await a.listen(parseEndpoint(`unix:${p}`));
    try {
      const c = await AgentClient.connect({ endpoint: `unix:${p}`, token: TOKEN });
      const m = await c.fetchMapping().catch((x: unknown) => x);
      expect((m as Error).message).toMatch(/the mapping file cannot be read: EACCES: \/etc\/mapping\.json/);
      c.close();
    } finally {
      await a.close();
    }
  });

  it("a second agent on a live socket is refused", async () => {
    const a = new HostAgent();
    await expect(a.listen(parseEndpoint(`unix:${path}`))).rejects.toThrow(/another process is serving it/);
    await a.close();
  });

  it("a stale socket file (its agent was killed) is replaced, and the new agent serves", async () => {
    const p = join(tmp.dir, "stale.sock");
    staleUnixSocket(p);
    // It is a socket file nobody answers on.
    expect(lstatSync(p).isSocket()).toBe(true);
    expect(await connectRaw({ path: p }).then(() => "connected", (e: NodeJS.ErrnoException) => e.code)).toBe("ECONNREFUSED");
    const a = new HostAgent();
    try {
      const info = await a.listen(parseEndpoint(`unix:${p}`));
      expect(info.mode).toBe(0o600);
      await goodClientSyncs(p);
    } finally {
      await a.close();
    }
    expect(existsSync(p)).toBe(false);
  });

  it("with --max-frame 16 MiB: a peer that has not said HELLO may still send only 4096 bytes; after it, a large frame trickled in small writes is taken in whole", async () => {
    const big = new HostAgent({ maxPayloadBytes: ABSOLUTE_MAX_PAYLOAD, frameTimeoutMs: 20_000 });
    const p = join(tmp.dir, "big.sock");
    await big.listen(parseEndpoint(`unix:${p}`));
    try {
      // Before the handshake: refused from the header alone.
      const s0 = await connectRaw({ path: p });
      const d0 = collectUntilClose(s0);
      const header = encodeFrame(MSG.hello, 3, Buffer.alloc(0));
      header.writeUInt32BE(1024 * 1024, 12);
      s0.write(header);
      const r0 = await d0;
      expect(r0.errors[0]?.code).toBe(ERROR_CODE.frameTooLarge);
      expect(r0.errors[0]?.message).toMatch(/1048576 bytes exceeds the limit of 4096/);

      // After HELLO: 4 MiB, 1 KiB per write, each write after the previous one was flushed.
      const { s, done } = await welcomedSession(p);
      const frame = encodeFrame(MSG.timeRequest, 9, Buffer.alloc(4 * 1024 * 1024, 1));
      for (let i = 0; i < frame.length; i += 1024) {
        await new Promise<void>((r) => s.write(frame.subarray(i, i + 1024), () => r()));
      }
      const r = await done;
      // The whole frame arrived and was decoded: its 4 MiB payload is not a time request.
      expect(r.errors[0]?.code).toBe(ERROR_CODE.badFrame);
      expect(r.errors[0]?.message).toMatch(/time-request|8 bytes|payload/i);
    } finally {
      await big.close();
    }
  }, 60_000);

  it("close() says goodbye to open sessions and removes the socket file", async () => {
    const a = new HostAgent();
    const p = join(tmp.dir, "bye.sock");
    await a.listen(parseEndpoint(`unix:${p}`));
    const { done } = await welcomedSession(p); // a session in progress, not a half-accepted connection
    await a.close();
    const r = await done;
    expect(r.errors[0]?.code).toBe(ERROR_CODE.shuttingDown);
    expect(existsSync(p)).toBe(false);
  });
});
