import { mkdtempSync, rmSync } from "node:fs";
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

/** Everything a raw socket receives until it closes, decoded as frames. */
export function collectUntilClose(s: Socket): Promise<{ frames: Frame[]; errors: ErrorMessage[] }> {
  return new Promise((resolve) => {
    const dec = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
    const frames: Frame[] = [];
    s.on("data", (c: Buffer) => {
      for (const e of dec.push(c)) if (e.frame) frames.push(e.frame);
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve({ frames, errors: frames.filter((f) => f.type === MSG.error).map((f) => decodeError(f.payload)) }));
  });
}

/**
 * A TCP proxy that delays one direction: bytes from the client to the agent
 * wait `upMs` before being forwarded; the way back is immediate. It makes the
 * path asymmetric, which shifts the naive midpoint estimate but must not take
 * the truth outside the bound. `bytes` keeps everything that crossed.
 */
export async function delayingProxy(target: { host: string; port: number }, upMs: number): Promise<{ port: number; bytes: Buffer[]; close(): Promise<void> }> {
  const bytes: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("data", (c: Buffer) => {
      bytes.push(Buffer.from(c));
      setTimeout(() => upstream.write(c), upMs);
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
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    bytes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
