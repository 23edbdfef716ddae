import { spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeError, FrameDecoder, MSG, type ErrorMessage, type Frame } from "../src/index.js";

/** A private temporary directory, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "cs-pv-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function connectRaw(target: { path: string } | { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(target as never);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Everything a raw socket receives until it closes, decoded as frames; `onFrame` sees each as it arrives. */
export function collectUntilClose(s: Socket, onFrame?: (f: Frame) => void): Promise<{ frames: Frame[]; errors: ErrorMessage[] }> {
  return new Promise((resolve) => {
    const dec = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
    const frames: Frame[] = [];
    s.on("data", (c: Buffer) => {
      for (const e of dec.push(c)) {
        if (!e.frame) continue;
        frames.push(e.frame);
        onFrame?.(e.frame);
      }
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve({ frames, errors: frames.filter((f) => f.type === MSG.error).map((f) => decodeError(f.payload)) }));
  });
}

/**
 * A TCP proxy that delays one direction: bytes from the client to the agent
 * wait `upMs` before being forwarded; the way back is immediate. It makes the
 * path asymmetric, which shifts the naive midpoint estimate but must not take
 * the truth outside the bound. `bytes` keeps everything that crossed;
 * `delayedChunks` counts chunks forwarded from the delay timer (proof that the
 * way in really went through it); `closedConnections` counts relayed
 * connections fully closed.
 */
export interface DelayingProxy {
  readonly port: number;
  readonly bytes: Buffer[];
  readonly delayedChunks: number;
  readonly closedConnections: number;
  close(): Promise<void>;
}

export async function delayingProxy(target: { host: string; port: number }, upMs: number): Promise<DelayingProxy> {
  const bytes: Buffer[] = [];
  const sockets = new Set<Socket>();
  let delayedChunks = 0;
  let closedConnections = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("data", (c: Buffer) => {
      bytes.push(Buffer.from(c));
      setTimeout(() => {
        delayedChunks++;
        upstream.write(c);
      }, upMs);
    });
    upstream.on("data", (c: Buffer) => {
      bytes.push(Buffer.from(c));
      client.write(c);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
    let closes = 0;
    const closed = () => {
      if (++closes === 2) closedConnections++;
    };
    client.once("close", closed);
    upstream.once("close", closed);
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    bytes,
    get delayedChunks() {
      return delayedChunks;
    },
    get closedConnections() {
      return closedConnections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Resolves once `cond()` holds, polling; rejects naming `what` after a
 * generous overall limit (a hang guard, not a timing assertion).
 */
export async function waitFor(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Leaves a stale Unix socket file at `path`, as an agent killed with SIGKILL
 * does: a process binds it and dies before it can remove it. Connecting to it
 * is refused (ECONNREFUSED) for as long as the file exists: nothing can
 * start listening on it behind the test's back.
 */
export function staleUnixSocket(path: string): void {
  const script = `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"));`;
  const r = spawnSync(process.execPath, ["-e", script], { stdio: "ignore", timeout: 10_000 });
  if (r.signal !== "SIGKILL" || !lstatSync(path).isSocket()) throw new Error(`could not leave a stale socket at ${path} (${r.signal ?? r.status})`);
}
