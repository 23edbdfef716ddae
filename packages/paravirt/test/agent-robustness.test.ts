import { randomBytes } from "node:crypto";
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
  MSG,
  parseEndpoint,
  runSyncSession,
} from "../src/index.js";
import { collectUntilClose, connectRaw, delayingProxy, sleep, tempDir } from "./net-helpers.js";

const TOKEN = Buffer.from("a-shared-secret-of-32-bytes-long!");

function helloFrame(seq = 1): Buffer {
  return encodeFrame(MSG.hello, seq, encodeHello({ minVersion: 1, maxVersion: 1, maxPayloadBytes: 4096, clientNonce: randomBytes(16) }));
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
      await sleep(20);
      const wire = Buffer.concat(proxy.bytes);
      expect(wire.length).toBeGreaterThan(100);
      expect(wire.includes(TOKEN)).toBe(false);
      expect(wire.includes(TOKEN.subarray(0, 8))).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it("refuses a non-loopback TCP address without a token", async () => {
    const a = new HostAgent();
    await expect(a.listen(parseEndpoint("tcp:0.0.0.0:0"))).rejects.toThrow(/without a token/);
    await a.close();
  });

  it("a second agent on a live socket is refused; a stale socket file is replaced", async () => {
    const a = new HostAgent();
    await expect(a.listen(parseEndpoint(`unix:${path}`))).rejects.toThrow(/another process is serving it/);
    await a.close();
  });

  it("close() says goodbye to open sessions and removes the socket file", async () => {
    const a = new HostAgent();
    const p = join(tmp.dir, "bye.sock");
    await a.listen(parseEndpoint(`unix:${p}`));
    const s = await connectRaw({ path: p });
    const done = collectUntilClose(s);
    s.write(helloFrame());
    await sleep(30);
    await a.close();
    const r = await done;
    expect(r.errors[0]?.code).toBe(ERROR_CODE.shuttingDown);
    const { existsSync } = await import("node:fs");
    expect(existsSync(p)).toBe(false);
  });
});
