import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMappingFile, parseMappingFile, resolveMapping, serializeMappingFile } from "@clocksource/core";
import { ABSOLUTE_MAX_PAYLOAD, decodeWelcome, encodeFrame, encodeHello, encodeTimeRequest, FrameDecoder, MSG, paravirtCodec, type Frame } from "@clocksource/paravirt";
import { kvmTscCodec } from "@clocksource/x86";
import { mappingKinds } from "../src/mapping-kinds.js";
import { CLI_BIN, runCli } from "../../../test/support/run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "agent-sync-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface RunningAgent {
  readonly child: ChildProcess;
  stderr(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `clocksource agent …` and waits until it reports it is serving. */
async function startAgent(args: string[]): Promise<RunningAgent> {
  const child = spawn(process.execPath, [CLI_BIN, "agent", ...args], { stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH ?? "" } });
  let err = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (/host clock /.test(err)) {
        clearInterval(check);
        resolve();
      }
    }, 10);
    void exited.then((code) => {
      clearInterval(check);
      reject(new Error(`agent exited ${code}: ${err}`));
    });
  });
  return {
    child,
    stderr: () => err,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

async function waitFor(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not met in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Plays a guest on a line the agent serves (the VMM's side of a chardev):
 * HELLO → WELCOME, then one TIME_REQUEST → TIME_RESPONSE. Returns the WELCOME's announced payload limit.
 */
async function guestExchange(line: Socket): Promise<number> {
  const dec = new FrameDecoder({ maxPayloadBytes: 1 << 20, resync: true });
  const frames: Frame[] = [];
  const onData = (c: Buffer) => {
    for (const e of dec.push(c)) if (e.frame) frames.push(e.frame);
  };
  line.on("data", onData);
  try {
    line.write(encodeFrame(MSG.hello, 11, encodeHello({ minVersion: 1, maxVersion: 1, maxPayloadBytes: 4096, clientNonce: Buffer.alloc(16, 7) })));
    await waitFor(() => frames.some((f) => f.seq === 11), 10_000, "WELCOME");
    const welcome = frames.find((f) => f.seq === 11) as Frame;
    expect(welcome.type).toBe(MSG.welcome);
    line.write(encodeFrame(MSG.timeRequest, 12, encodeTimeRequest(42n)));
    await waitFor(() => frames.some((f) => f.seq === 12), 10_000, "TIME_RESPONSE");
    expect(frames.find((f) => f.seq === 12)?.type).toBe(MSG.timeResponse);
    return decodeWelcome(welcome.payload).maxPayloadBytes;
  } finally {
    line.off("data", onData);
  }
}

function listenUnix(path: string, onConnection: (s: Socket) => void): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((s) => {
    s.on("error", () => undefined);
    onConnection(s);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve(server));
  });
}

function sync(args: string[], env: Record<string, string> = {}) {
  return runCli(["sync", ...args], { env, timeoutMs: 30_000 });
}

describe("clocksource agent + sync (subprocesses)", () => {
  const sock = join(tmp, "agent.sock");
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await startAgent(["--listen", `unix:${sock}`, "--listen", "tcp:127.0.0.1:0"]);
  });
  afterAll(async () => {
    if (agent.child.exitCode === null) await agent.stop();
  });

  it("creates the socket with mode 0600 and says where it listens", () => {
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(agent.stderr()).toMatch(/listening on unix:.*agent\.sock \(mode 0600\)/);
    expect(agent.stderr()).toMatch(/listening on tcp:127\.0\.0\.1:\d+/);
  });

  it("sync --json: offset, bound containing the true 0, drift, samples, delays; --out and --plot", () => {
    const out = join(tmp, "m.json");
    const plot = join(tmp, "sync.svg");
    const r = sync(["--connect", `unix:${sock}`, "--samples", "80", "--interval", "1", "--json", "--out", out, "--plot", plot]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.schema).toBe("clocksource.sync/v1");
    const offset = BigInt(j.offsetNs);
    expect(typeof j.errorBoundNs).toBe("number");
    expect((offset < 0n ? -offset : offset) <= BigInt(j.errorBoundNs)).toBe(true);
    expect(BigInt(j.intervalNs.low) <= 0n && 0n <= BigInt(j.intervalNs.high)).toBe(true);
    expect(typeof j.driftPpm).toBe("number");
    expect(j.samplesUsed).toBeGreaterThan(0);
    expect(j.samplesUsed).toBeLessThanOrEqual(80);
    expect(j.delayNs.min).toBeLessThanOrEqual(j.delayNs.p50);
    expect(j.delayNs.p50).toBeLessThanOrEqual(j.delayNs.p99);
    expect(j.from).toBe("guest.monotonic");
    expect(j.to).toBe("host.monotonic");

    const file = parseMappingFile(readFileSync(out, "utf8"));
    expect(file.kind).toBe("paravirt-estimate");
    expect(file.exact).toBe(false);
    expect(file.errorBound).toBe(BigInt(j.errorBoundNs));
    const m = resolveMapping(file, mappingKinds());
    const ref = BigInt(j.referenceGuestNs);
    expect(m.forward(ref).value).toBe(ref + offset);
    // `clocksource convert` uses it like any other mapping.
    const conv = runCli(["convert", "--mapping", out], { input: `${ref}\n` });
    expect(conv.status).toBe(0);
    expect(conv.stdout).toBe(`${ref + offset}\n`);

    const svg = readFileSync(plot, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toMatch(/guest time since the first exchange \[/);
    expect(svg).toMatch(/delay \[/);
    expect(svg).toMatch(/offset − \(/);
  });

  it("sync prints a readable report over TCP", () => {
    const port = /listening on tcp:127\.0\.0\.1:(\d+)/.exec(agent.stderr())?.[1];
    const r = sync(["--connect", `tcp:127.0.0.1:${port}`, "--samples", "30", "--interval", "0"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^offset {5}host − guest = [+−]\d+ ns at guest \d+ ns$/m);
    expect(r.stdout).toMatch(/^bound {6}±\d+ ns/m);
    expect(r.stdout).toMatch(/^drift {6}[+-]\d+\.\d{3} ppm ± /m);
    expect(r.stdout).toMatch(/^exchanges  30 sent, 30 valid, \d+ kept/m);
  });

  it("--watch re-syncs and appends an epoch per session", () => {
    const out = join(tmp, "watch.json");
    const r = sync(["--connect", `unix:${sock}`, "--samples", "10", "--interval", "0", "--watch", "0.05", "--count", "3", "--json", "--out", out]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([0, 1, 2]);
    const file = parseMappingFile(readFileSync(out, "utf8"));
    expect(file.epochs).toHaveLength(3);
    expect(file.epochs[0]?.validFrom).toBeNull();
    expect((file.epochs[2]?.validFrom as bigint) > (file.epochs[1]?.validFrom as bigint)).toBe(true);
  });

  it("failures are one line: unreachable agent exits 1, bad options exit 2", () => {
    const r1 = sync(["--connect", `unix:${join(tmp, "nobody.sock")}`, "--retries", "0"]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/^clocksource: sync failed \(unreachable\): cannot reach the agent at unix:.*nobody\.sock: no such file or socket\n$/);
    for (const args of [["--connect", "pigeon:x"], ["--connect", `unix:${sock}`, "--samples", "0"], [], ["--connect", `unix:${sock}`, "--count", "2"]]) {
      const r = sync(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
    }
    expect(sync([], { CLOCKSOURCE_AGENT: `unix:${sock}` }).status).toBe(0);
  });

  it("SIGTERM closes the agent cleanly and removes its socket", async () => {
    const code = await agent.stop();
    expect(code).toBe(0);
    expect(existsSync(sock)).toBe(false);
    await waitFor(() => /SIGTERM: stopped/.test(agent.stderr()));
  });
});

describe("clocksource agent --connect (subprocess)", () => {
  it("stays up when the VMM drops the line and restarts: reconnects and serves again", async () => {
    const path = join(tmp, "vmm.sock");
    const lines: Socket[] = [];
    let vmm = await listenUnix(path, (s) => lines.push(s));
    const a = await startAgent(["--connect", `unix:${path}`, "--max-frame", String(ABSOLUTE_MAX_PAYLOAD)]);
    const alive = () => a.child.exitCode === null && a.child.signalCode === null;
    try {
      await waitFor(() => lines.length === 1, 10_000, "the agent's connection");
      expect(await guestExchange(lines[0] as Socket)).toBe(ABSOLUTE_MAX_PAYLOAD);
      // The VMM goes away: its end of the line and its listener both close.
      (lines[0] as Socket).destroy();
      await new Promise<void>((r) => vmm.close(() => r()));
      await waitFor(() => /cannot connect: .*; retrying in \d+ ms/.test(a.stderr()) || !alive(), 15_000, "a retry (or the agent's exit)");
      expect(alive(), a.stderr()).toBe(true);
      expect(a.stderr()).toMatch(/closed; reopening/);
      // The VMM is back: the agent connects again and serves.
      vmm = await listenUnix(path, (s) => lines.push(s));
      await waitFor(() => lines.length === 2 || !alive(), 20_000, "the agent's new connection (or its exit)");
      expect(alive(), a.stderr()).toBe(true);
      expect(await guestExchange(lines[1] as Socket)).toBe(ABSOLUTE_MAX_PAYLOAD);
      // And once more without a listener gap: only the line drops.
      (lines[1] as Socket).destroy();
      await waitFor(() => lines.length === 3 || !alive(), 20_000, "the third connection (or the agent's exit)");
      expect(alive(), a.stderr()).toBe(true);
      await guestExchange(lines[2] as Socket);
    } finally {
      // (A dead agent has already failed the test above, with its log.)
      if (alive()) expect(await a.stop()).toBe(0);
      for (const l of lines) l.destroy();
      vmm.close();
    }
  });
});

describe("clocksource agent security and exact mappings (subprocesses)", () => {
  it("with --token-file, a client without the token is refused and one with it syncs", async () => {
    const token = join(tmp, "token");
    writeFileSync(token, "0123456789abcdef0123456789abcdef\n", { mode: 0o600 });
    const wrong = join(tmp, "wrong");
    writeFileSync(wrong, "fedcba9876543210fedcba9876543210\n", { mode: 0o600 });
    const sock = join(tmp, "t.sock");
    const a = await startAgent(["--listen", `unix:${sock}`, "--token-file", token]);
    try {
      const none = sync(["--connect", `unix:${sock}`, "--retries", "0"]);
      expect(none.status).toBe(1);
      expect(none.stderr).toMatch(/sync failed \(auth-failed\): the agent requires a token/);
      const bad = sync(["--connect", `unix:${sock}`, "--retries", "0", "--token-file", wrong]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/sync failed \(auth-failed\)/);
      const good = sync(["--connect", `unix:${sock}`, "--samples", "10", "--interval", "0", "--token-file", token, "--json"]);
      expect(good.status).toBe(0);
      expect(JSON.parse(good.stdout).authenticated).toBe(true);
      // The agent's log arrives once this process's event loop runs again.
      await waitFor(() => /auth-failed: authentication failed: wrong token/.test(a.stderr()));
    } finally {
      expect(await a.stop()).toBe(0);
    }
  });

  it("serves an exact mapping given with --mapping, which sync --out saves as served", async () => {
    const kvm = join(tmp, "kvm.json");
    const text = serializeMappingFile(
      buildMappingFile(kvmTscCodec, { from: "guest.tsc", to: "host.tsc", producer: "test", createdAt: "2025-01-01T00:00:00.000Z", epochs: [{ observedAt: "2025-01-01T00:00:00.000Z", params: { offset: -123456789n, ratio: 1n << 48n, fracBits: 48 } }] }),
    );
    writeFileSync(kvm, text);
    const sock = join(tmp, "x.sock");
    const a = await startAgent(["--listen", `unix:${sock}`, "--mapping", kvm]);
    try {
      const out = join(tmp, "served.json");
      const r = sync(["--connect", `unix:${sock}`, "--samples", "10", "--interval", "0", "--json", "--out", out]);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.exactMapping).toEqual({ kind: "kvm-x86-tsc", from: "guest.tsc", to: "host.tsc" });
      expect(j.outKind).toMatch(/exact kvm-x86-tsc/);
      expect(readFileSync(out, "utf8")).toBe(text);
      const est = join(tmp, "est.json");
      expect(sync(["--connect", `unix:${sock}`, "--samples", "10", "--interval", "0", "--out", est, "--estimated"]).status).toBe(0);
      expect(parseMappingFile(readFileSync(est, "utf8")).kind).toBe("paravirt-estimate");
    } finally {
      await a.stop();
    }
  });

  it("refuses unsafe or impossible setups with one line and exit 2", () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /give --listen ENDPOINT or --connect ENDPOINT/],
      [["--listen", "tcp:0.0.0.0:0"], /without a token/],
      [["--listen", "tcp:some-host-name:0"], /refusing to listen on tcp:some-host-name:0 without a token/],
      [["--connect", "tcp:192.0.2.1:7900"], /refusing to connect to tcp:192\.0\.2\.1:7900 without a token/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--max-frame", "0"], /--max-frame must be a whole number in 1\.\.16777216, got "0"/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--max-frame", "16777217"], /--max-frame must be a whole number in 1\.\.16777216/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--max-frame", "5000000000"], /--max-frame must be a whole number in 1\.\.16777216/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--rate", "4294967296"], /--rate must be a whole number in 0\.\.4294967295/],
      [["--listen", "vsock:3:7900"], /bridge it with socat/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--clock", "sundial"], /--clock must be monotonic or tsc/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--mapping", join(tmp, "missing.json")], /cannot read --mapping/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--token-file", join(tmp, "missing")], /cannot read token file/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--rate", "lots"], /--rate must be/],
    ];
    for (const [args, msg] of cases) {
      const r = runCli(["agent", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(msg);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
    }
    expect(existsSync(join(tmp, "y.sock"))).toBe(false);
  });

  it("--clock tsc stamps with the host TSC when the native reader has one, and refuses clearly otherwise", async () => {
    const nat = (await import("@clocksource/native")) as { native: { counter: string } | null };
    const sock = join(tmp, "tsc.sock");
    if (nat.native?.counter === "tsc") {
      // The frequency comes from the probe (x86.tsc_frequency_hz) when not given.
      const a = await startAgent(["--listen", `unix:${sock}`, "--clock", "tsc"]).catch((e: Error) => e);
      if (a instanceof Error) {
        expect(a.message).toMatch(/TSC frequency is unknown/);
        return;
      }
      try {
        expect(a.stderr()).toMatch(/TSC frequency \d+ Hz from .+/);
        const r = sync(["--connect", `unix:${sock}`, "--samples", "20", "--interval", "0", "--json"]);
        expect(r.status).toBe(0);
        const j = JSON.parse(r.stdout);
        expect(j.to).toBe("host.tsc");
        expect(a.stderr()).toMatch(/host clock host\.tsc at \d+ Hz/);
      } finally {
        await a.stop();
      }
    } else {
      const r = runCli(["agent", "--listen", `unix:${sock}`, "--clock", "tsc", "--tsc-hz", "2000000000"]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--clock tsc: .*(native|not an x86 TSC)/);
    }
    const bad = runCli(["agent", "--listen", `unix:${sock}`, "--clock", "tsc", "--tsc-hz", "0"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--tsc-hz must be/);
  });

  it("refuses to serve an estimated mapping as if it were exact", () => {
    const est = join(tmp, "est-only.json");
    const params = { referenceGuestNs: 1n, offsetNs: 5n, driftPpt: 0n, errorBoundNs: 100n, driftBoundPpt: 0n, hostTicksPerSecond: null };
    writeFileSync(est, serializeMappingFile(buildMappingFile(paravirtCodec, { from: "guest.monotonic", to: "host.monotonic", producer: "test", epochs: [{ observedAt: "2025-01-01T00:00:00.000Z", errorBound: 100n, params }] })));
    const r0 = runCli(["agent", "--listen", `unix:${join(tmp, "z.sock")}`, "--mapping", est]);
    expect(r0.status).toBe(2);
    expect(r0.stderr).toMatch(/is an estimated \(paravirt-estimate\) mapping; the agent serves exact ones/);
  });
});
