import { spawn } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isClocksourceError } from "@clocksource/core";
import { AgentClient, HostAgent, LogLimiter, MAX_UNIX_PATH_BYTES, parseEndpoint } from "../src/index.js";
import { connectRaw, staleUnixSocket, tempDir, waitFor } from "./net-helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A path of exactly `bytes` bytes inside `dir` (which must be shorter). */
function pathOfLength(dir: string, bytes: number): string {
  const name = "s".repeat(bytes - dir.length - 1);
  const p = join(dir, name);
  expect(Buffer.byteLength(p)).toBe(bytes);
  return p;
}

describe("Unix socket files", () => {
  it("a path over 107 bytes is refused before anything is bound; 107 bytes works", async () => {
    const dir = join(tmp.dir, "long");
    mkdirSync(dir);
    const tooLong = pathOfLength(dir, MAX_UNIX_PATH_BYTES + 1);
    let err: unknown;
    try {
      parseEndpoint(`unix:${tooLong}`);
    } catch (e) {
      err = e;
    }
    expect(isClocksourceError(err, "INVALID_ARGUMENT")).toBe(true);
    expect((err as Error).message).toMatch(/the path is 108 bytes; a Unix socket path holds at most 107/);
    // Also when the endpoint is built in code, and for connecting.
    const a = new HostAgent();
    await expect(a.listen({ kind: "unix", path: tooLong })).rejects.toThrow(/108 bytes/);
    const c = await AgentClient.connect({ endpoint: { kind: "unix", path: tooLong }, retries: 0 }).catch((e: unknown) => e);
    expect((c as Error).message).toMatch(/108 bytes, more than the 107/);
    // Nothing was created, at the full name or a truncated one.
    expect(readdirSync(dir)).toEqual([]);
    const fits = pathOfLength(dir, MAX_UNIX_PATH_BYTES);
    try {
      await a.listen(parseEndpoint(`unix:${fits}`));
      expect(lstatSync(fits).isSocket()).toBe(true);
      const client = await AgentClient.connect({ endpoint: `unix:${fits}` });
      await client.exchange();
      client.close();
    } finally {
      await a.close();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("never changes the mode of a file swapped in for the socket (a world-writable directory without the sticky bit)", async () => {
    const dir = join(tmp.dir, "open");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(statSync(dir).mode & 0o1777).toBe(0o777);
    const victim = join(tmp.dir, "victim");
    writeFileSync(victim, "precious\n", { mode: 0o644 });
    chmodSync(victim, 0o644);
    const sock = join(dir, "agent.sock");
    // Another user's loop: as soon as a socket appears, move it and put a link to the victim in its place.
    const racer = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs"); const p = ${JSON.stringify(sock)}; const v = ${JSON.stringify(victim)}; let swaps = 0;
         process.on("SIGTERM", () => { process.stdout.write("swaps " + swaps + "\\n"); process.exit(0); }); process.stdout.write("go\\n");
         (function loop() { for (let i = 0; i < 20000; i++) { try { if (fs.lstatSync(p).isSocket()) { fs.renameSync(p, p + ".moved"); fs.symlinkSync(v, p); swaps++; } } catch {} } setImmediate(loop); })();`,
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    let out = "";
    racer.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
    // "close", not "exit": the racer's last words must have been read.
    const exited = new Promise<void>((r) => racer.once("close", () => r()));
    await waitFor(() => out.startsWith("go"), "the racer to start");
    const outcomes = { listening: 0, refused: 0 };
    const logs: string[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const a = new HostAgent({ log: (l) => logs.push(l) });
        try {
          await a.listen(parseEndpoint(`unix:${sock}`));
          outcomes.listening++;
        } catch (e) {
          // Only a clear, typed refusal is acceptable.
          expect(isClocksourceError(e, "IO_ERROR"), String(e)).toBe(true);
          expect((e as Error).message).toMatch(/^cannot listen on unix:.*agent\.sock: (the socket was replaced right after it was bound|the path exists and is not a socket|the socket vanished)/);
          outcomes.refused++;
        } finally {
          await a.close();
        }
        // The victim keeps its mode whatever happened.
        expect(statSync(victim).mode & 0o777).toBe(0o644);
        for (const p of [sock, `${sock}.moved`]) rmSync(p, { force: true });
      }
    } finally {
      racer.kill("SIGTERM");
      await exited;
      for (const p of [sock, `${sock}.moved`]) rmSync(p, { force: true });
    }
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    // The race really ran: the racer swapped sockets while agents were starting.
    // (Before the fix, a chmod after the bind hit the victim in about 1 try in 40 here.)
    expect(Number(/swaps (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);
    expect(outcomes.listening + outcomes.refused).toBe(100);
    expect(logs.some((l) => /writable by others without the sticky bit/.test(l)) || outcomes.listening === 0).toBe(true);
  }, 60_000);

  it("two agents taking over one stale socket at once: exactly one listens, the other is refused", async () => {
    for (let round = 0; round < 10; round++) {
      const p = join(tmp.dir, `stale-${round}.sock`);
      staleUnixSocket(p);
      const a = new HostAgent();
      const b = new HostAgent();
      try {
        const results = await Promise.allSettled([a.listen(parseEndpoint(`unix:${p}`)), b.listen(parseEndpoint(`unix:${p}`))]);
        const ok = results.filter((r) => r.status === "fulfilled");
        expect(ok, `round ${round}`).toHaveLength(1);
        const bad = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
        expect((bad.reason as Error).message).toMatch(/another process is serving it/);
        // The one that says it listens is the one that answers at the path.
        const winner = results[0]?.status === "fulfilled" ? a : b;
        const c = await AgentClient.connect({ endpoint: `unix:${p}`, retries: 0 });
        await c.exchange();
        await waitFor(() => winner.sessionCount === 1, "the winner to hold the session");
        c.close();
      } finally {
        await a.close();
        await b.close();
      }
      expect(existsSync(p)).toBe(false);
      // Nothing left behind (no ".stale-" files).
      expect(readdirSync(tmp.dir).filter((n) => n.includes(`stale-${round}.sock.`))).toEqual([]);
    }
  });

  it("a live socket is not taken over; what is at the path stays reachable", async () => {
    const p = join(tmp.dir, "live.sock");
    const a = new HostAgent();
    await a.listen(parseEndpoint(`unix:${p}`));
    try {
      const b = new HostAgent();
      await expect(b.listen(parseEndpoint(`unix:${p}`))).rejects.toThrow(/another process is serving it/);
      await b.close();
      const s = await connectRaw({ path: p });
      s.destroy();
    } finally {
      await a.close();
    }
  });
});

describe("serial lines", () => {
  it("a regular file named as a serial line is refused before a byte is read or written", async () => {
    const f = join(tmp.dir, "not-a-port");
    writeFileSync(f, "precious contents\n");
    const a = new HostAgent();
    try {
      await expect(a.listen(parseEndpoint(`serial:${f}`))).rejects.toThrow(/is neither a character device nor a socket/);
    } finally {
      await a.close();
    }
    expect(readFileSync(f, "utf8")).toBe("precious contents\n");
  });
});

describe("LogLimiter", () => {
  it("writes a burst per kind and window, then one summary line", () => {
    let now = 0;
    const lines: string[] = [];
    const l = new LogLimiter((x) => lines.push(x), { burst: 2, windowMs: 1000, now: () => now });
    for (let i = 0; i < 10; i++) l.log("bad-frame", `line ${i}`);
    l.log("other", "other 0");
    expect(lines).toEqual(["line 0", "line 1", "other 0"]);
    now = 3000;
    l.log("bad-frame", "line 10");
    expect(lines.slice(3)).toEqual(["bad-frame: … and 8 more in the last 3 s", "line 10"]);
    for (let i = 11; i < 14; i++) l.log("bad-frame", `line ${i}`);
    l.close();
    expect(lines.slice(5)).toEqual(["line 11", "bad-frame: … and 2 more in the last 1 s"]);
    l.log("bad-frame", "after close");
    expect(lines[lines.length - 1]).toBe("after close");
  });

  it("caps the kinds it tracks", () => {
    const lines: string[] = [];
    const l = new LogLimiter((x) => lines.push(x), { burst: 1, maxKinds: 2 });
    for (let i = 0; i < 100; i++) l.log(`k${i}`, `line ${i}`);
    l.flush();
    expect(lines).toEqual(["line 0", "line 1", "line 2", "other messages: … and 97 more in the last 1 s"]);
  });
});
