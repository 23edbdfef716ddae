import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMappingFile, parseMappingFile, resolveMapping, serializeMappingFile } from "@clocksource/core";
import {
  ABSOLUTE_MAX_PAYLOAD,
  decodeWelcome,
  encodeFrame,
  encodeHello,
  encodeTimeRequest,
  formatEndpoint,
  FrameDecoder,
  HostAgent,
  monotonicHostClock,
  MSG,
  paravirtCodec,
  parseEndpoint,
  type AgentOptions,
  type Frame,
  type HostClock,
} from "@clocksource/paravirt";
import { kvmTscCodec } from "@clocksource/x86";
import { mappingKinds } from "../src/mapping-kinds.js";
import { REPO_ROOT } from "../../../test/support/fixtures.js";
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
    // Waits a Node timer cannot hold (over 2^31 − 1 ms) would fire at once: refused.
    const tooLong = [["--connect", `unix:${sock}`, "--timeout", "3000000000"], ["--connect", `unix:${sock}`, "--watch", "3000000"], ["--connect", `unix:${sock}`, "--force"]];
    for (const args of [["--connect", "pigeon:x"], ["--connect", `unix:${sock}`, "--samples", "0"], [], ["--connect", `unix:${sock}`, "--count", "2"], ...tooLong]) {
      const r = sync(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
    }
    expect(sync([], { CLOCKSOURCE_AGENT: `unix:${sock}` }).status).toBe(0);
  }, 120_000);

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
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--rate", "lots"], /--rate must be/],
      [["--listen", `unix:${join(tmp, "y.sock")}`, "--max-handshakes", "0"], /--max-handshakes must be a whole number in 1\.\.1000000/],
      [["--listen", `unix:${join(tmp, "d".repeat(120))}`], /the path is \d+ bytes; a Unix socket path holds at most 107/],
    ];
    for (const [args, msg] of cases) {
      const r = runCli(["agent", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(msg);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
    }
    expect(existsSync(join(tmp, "y.sock"))).toBe(false);
    // Files that are missing or hold the wrong thing are failures at run time: exit 1.
    const runtime: Array<[string[], RegExp]> = [
      [["--mapping", join(tmp, "missing.json")], /cannot read mapping file .*missing\.json/],
      [["--token-file", join(tmp, "missing")], /cannot read token file .*missing/],
      [["--token-file", "/dev/zero"], /token file \/dev\/zero is a character device, not a regular file/],
    ];
    for (const [args, msg] of runtime) {
      const r = runCli(["agent", "--listen", `unix:${join(tmp, "y.sock")}`, ...args], { timeoutMs: 20_000 });
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(msg);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
    }
    expect(existsSync(join(tmp, "y.sock"))).toBe(false);
  }, 120_000);

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
    expect(r0.status).toBe(1);
    expect(r0.stderr).toMatch(/is an estimated \(paravirt-estimate\) mapping; the agent serves exact ones/);
  });
});

/** Runs the CLI without blocking this process (an agent in this process must keep answering). */
function runCliAsync(args: string[], timeoutMs = 30_000): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "" } });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) => {
    child.once("close", (status) => {
      clearTimeout(kill);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Sends SIGTERM and waits at most `limitMs` for the agent to exit; SIGKILLs it (and fails) otherwise. */
async function stopWithin(a: RunningAgent, limitMs: number): Promise<number | null> {
  const exited = new Promise<number | null>((r) => (a.child.exitCode !== null ? r(a.child.exitCode) : a.child.once("exit", (c) => r(c))));
  a.child.kill("SIGTERM");
  const timer = new Promise<"hung">((r) => setTimeout(() => r("hung"), limitMs));
  const first = await Promise.race([exited, timer]);
  if (first === "hung") {
    a.child.kill("SIGKILL");
    await exited;
    throw new Error(`the agent ignored SIGTERM for ${limitMs} ms; its log: ${a.stderr()}`);
  }
  return first;
}

describe("clocksource agent: files, sockets and logs that cannot hang or mislead it (subprocesses)", () => {
  it("a --mapping file replaced by a FIFO: mapping requests get the last good version, and SIGTERM still stops the agent", async () => {
    const kvm = join(tmp, "fifo-kvm.json");
    const text = serializeMappingFile(
      buildMappingFile(kvmTscCodec, { from: "guest.tsc", to: "host.tsc", producer: "test", createdAt: "2025-01-01T00:00:00.000Z", epochs: [{ observedAt: "2025-01-01T00:00:00.000Z", params: { offset: -5n, ratio: 1n << 48n, fracBits: 48 } }] }),
    );
    writeFileSync(kvm, text);
    const sock = join(tmp, "fifo.sock");
    const a = await startAgent(["--listen", `unix:${sock}`, "--mapping", kvm]);
    try {
      const out1 = join(tmp, "fifo-served-1.json");
      expect((await runCliAsync(["sync", "--connect", `unix:${sock}`, "--samples", "3", "--interval", "0", "--out", out1])).status).toBe(0);
      // Swap a FIFO in for the file (nobody ever writes to it).
      const fifo = join(tmp, "fifo-new");
      expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
      renameSync(fifo, kvm);
      const out2 = join(tmp, "fifo-served-2.json");
      const r = await runCliAsync(["sync", "--connect", `unix:${sock}`, "--samples", "3", "--interval", "0", "--out", out2, "--deadline", "10"]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(out2, "utf8")).toBe(text);
      await waitFor(() => /could not be re-read \(.*is a FIFO, not a regular file\); serving the last good version/.test(a.stderr()), 10_000, "the re-read failure in the log");
    } finally {
      expect(await stopWithin(a, 5000)).toBe(0);
    }
    expect(a.stderr()).toMatch(/SIGTERM: stopped/);
  });

  it("a guest writing junk (serial:/dev/zero): a few log lines and summaries, not one per chunk; SIGTERM stops it", async () => {
    const a = await startAgent(["--listen", "serial:/dev/zero"]);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await stopWithin(a, 5000)).toBe(0);
    const lines = a.stderr().split("\n").filter(Boolean);
    // Before: ~26 000 lines a second.
    expect(lines.length).toBeLessThan(40);
    expect(lines.filter((l) => /resetting session: bad-frame/.test(l)).length).toBeGreaterThan(0);
    expect(a.stderr()).toMatch(/resetting session: bad-frame: … and \d+ more in the last \d+ s/);
  });

  it("two agents started at once on a stale socket: exactly one listens, the other exits 1", async () => {
    for (let round = 0; round < 2; round++) {
      const sock = join(tmp, `race-${round}.sock`);
      const script = `require("node:net").createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, "SIGKILL"));`;
      spawnSync(process.execPath, ["-e", script], { stdio: "ignore", timeout: 10_000 });
      expect(statSync(sock).isSocket()).toBe(true);
      const results = await Promise.allSettled([startAgent(["--listen", `unix:${sock}`]), startAgent(["--listen", `unix:${sock}`])]);
      const up = results.filter((r): r is PromiseFulfilledResult<RunningAgent> => r.status === "fulfilled").map((r) => r.value);
      try {
        expect(up, `round ${round}`).toHaveLength(1);
        const down = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
        expect(String(down.reason)).toMatch(/agent exited 1: clocksource: cannot listen on unix:.*: another process is serving it\n$/);
        expect(sync(["--connect", `unix:${sock}`, "--samples", "3", "--interval", "0"]).status).toBe(0);
      } finally {
        for (const a of up) expect(await stopWithin(a, 5000)).toBe(0);
      }
      expect(existsSync(sock)).toBe(false);
    }
  }, 90_000);

  it("a Unix path over 107 bytes: one line, exit 2, and no socket at a truncated name", () => {
    const dir = join(tmp, "long");
    mkdirSync(dir);
    const path = join(dir, "p".repeat(108 - dir.length - 1));
    expect(Buffer.byteLength(path)).toBe(108);
    const r = runCli(["agent", "--listen", `unix:${path}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^clocksource: unix:.*: the path is 108 bytes; a Unix socket path holds at most 107 \(.*\)\n$/);
    const s = sync(["--connect", `unix:${path}`]);
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/the path is 108 bytes/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("512 connections that never authenticate, reconnecting as they are dropped: an authenticated sync succeeds 3 times out of 3", async () => {
    const token = join(tmp, "flood-token");
    writeFileSync(token, "flood-test-token-0123456789abcdef\n", { mode: 0o600 });
    const a = await startAgent(["--listen", "tcp:127.0.0.1:0", "--token-file", token]);
    const port = Number(/listening on tcp:127\.0\.0\.1:(\d+)/.exec(a.stderr())?.[1]);
    const flooder = spawn(process.execPath, [join(REPO_ROOT, "packages/paravirt/test/flooder.mjs"), JSON.stringify({ target: { host: "127.0.0.1", port }, connections: 512, mode: "silent" })], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    flooder.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
    const flooderClosed = new Promise<void>((r) => flooder.once("close", () => r()));
    try {
      await waitFor(() => out.includes("ready"), 30_000, "the flood");
      // Let the shedding start (past the 500 ms grace) and the flood reconnect.
      await waitFor(() => /shed: agent busy/.test(a.stderr()), 30_000, "the agent to shed flood connections");
      for (let i = 0; i < 3; i++) {
        const r = await runCliAsync(["sync", "--connect", `tcp:127.0.0.1:${port}`, "--token-file", token, "--retries", "0", "--samples", "5", "--interval", "0", "--json"]);
        expect(r.status, `try ${i}: ${r.stderr}`).toBe(0);
        expect(JSON.parse(r.stdout).authenticated).toBe(true);
      }
    } finally {
      flooder.kill("SIGTERM");
      await flooderClosed;
      expect(await stopWithin(a, 10_000)).toBe(0);
    }
    // Summaries, not a line per shed connection.
    expect(a.stderr().split("\n").filter((l) => /: shed: /.test(l)).length).toBeLessThan(40);
    expect(a.stderr()).toMatch(/shed handshaking connection: … and \d+ more in the last \d+ s/);
  }, 120_000);
});

describe("clocksource sync is never silently wrong (agent in this process, sync as a subprocess)", () => {
  const agents: HostAgent[] = [];
  afterAll(async () => {
    for (const a of agents) await a.close();
  });

  async function agentWith(clock: HostClock, extra: Partial<AgentOptions> = {}): Promise<string> {
    const a = new HostAgent({ clock, ...extra });
    agents.push(a);
    const info = await a.listen(parseEndpoint("tcp:127.0.0.1:0"));
    return formatEndpoint(info.endpoint);
  }

  it("a host clock running twice as fast as the guest's: exit 1, a warning on stderr, no --out unless --force (which records it)", async () => {
    const t0 = process.hrtime.bigint();
    const ep = await agentWith({ ...monotonicHostClock, now: () => t0 + 2n * (process.hrtime.bigint() - t0) });
    const out = join(tmp, "twice.json");
    const plot = join(tmp, "twice.svg");
    const r = await runCliAsync(["sync", "--connect", ep, "--samples", "60", "--interval", "2", "--out", out, "--plot", plot]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/clocksource: warning: no constant drift within ±1000 ppm fits every exchange/);
    expect(r.stderr).toMatch(/the session is inconsistent .*: .*twice\.json not written \(--force writes it anyway\)/);
    expect(r.stdout).toMatch(/^consistent no: /m);
    expect(r.stdout).not.toMatch(/^warning/m);
    expect(r.stdout).not.toMatch(/^mapping/m);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(plot)).toBe(true);

    const forced = await runCliAsync(["sync", "--connect", ep, "--samples", "60", "--interval", "2", "--out", out, "--force", "--json"]);
    expect(forced.status).toBe(1);
    expect(JSON.parse(forced.stdout).consistent).toBe(false);
    const file = parseMappingFile(readFileSync(out, "utf8"));
    expect(file.origin?.consistent).toBe(false);
    // The file records why; on a busy machine other notes (stamps out of order) may come first.
    expect((file.origin?.inconsistent as string[]).some((why) => /^epoch 0: no constant drift/.test(String(why)))).toBe(true);

    // --watch: the inconsistent sessions are left out of the file, and the exit status says so.
    const watched = join(tmp, "twice-watch.json");
    const w = await runCliAsync(["sync", "--connect", ep, "--samples", "30", "--interval", "2", "--watch", "0.01", "--count", "2", "--out", watched]);
    expect(w.status).toBe(1);
    expect(w.stderr).toMatch(/epoch 1: the session is inconsistent/);
    expect(w.stderr).toMatch(/2 inconsistent sessions/);
    expect(existsSync(watched)).toBe(false);
  }, 90_000);

  it("an agent whose offset is beyond what a mapping holds (±2^63 ns) is a protocol error, exit 1, not a bad mapping file", async () => {
    const ep = await agentWith({ ...monotonicHostClock, now: () => 2n ** 64n - 10n ** 15n + process.hrtime.bigint() % 10n ** 14n });
    const out = join(tmp, "huge.json");
    const r = await runCliAsync(["sync", "--connect", ep, "--samples", "10", "--interval", "0", "--out", out]);
    expect(r.stderr).toMatch(/^clocksource: sync failed \(protocol\): the agent's time stamps give an estimate no mapping file can hold/m);
    expect(r.status).toBe(1);
    expect(existsSync(out)).toBe(false);
  });

  it("an agent whose stamps are all out of order is a protocol error, exit 1", async () => {
    let n = 10n ** 12n;
    // Every receive stamp later than the transmit stamp's echo is impossible; here time runs backwards.
    const ep = await agentWith({ ...monotonicHostClock, now: () => (n -= 10n ** 9n) });
    const r = await runCliAsync(["sync", "--connect", ep, "--samples", "5", "--interval", "0"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sync failed \(protocol\)/);
  });

  it("--deadline bounds the whole session: an agent that accepts but never answers", async () => {
    const silent = createServer((s) => {
      s.on("error", () => undefined);
      s.resume();
    });
    await new Promise<void>((r) => silent.listen({ host: "127.0.0.1", port: 0 }, r));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await runCliAsync(["sync", "--connect", `tcp:127.0.0.1:${port}`, "--timeout", "60000", "--retries", "5", "--deadline", "0.5"], 20_000);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^clocksource: sync failed \(timeout\): no result within the --deadline of 0\.5 s\n$/);
      // Without the deadline this would wait a minute per try; the kill timer above is the hang guard.
      expect(r.ms).toBeLessThan(20_000);
    } finally {
      silent.close();
    }
    for (const bad of ["0", "-1", "lots", "3e9"]) expect(sync(["--connect", "unix:/x", "--deadline", bad]).status, bad).toBe(2);
  }, 90_000);

  it("--max-frame raises (or lowers) the largest frame sync accepts: a served mapping too large for it is refused with both sizes", async () => {
    const big = serializeMappingFile(
      buildMappingFile(kvmTscCodec, { from: "guest.tsc", to: "host.tsc", producer: "x".repeat(3000), createdAt: "2025-01-01T00:00:00.000Z", epochs: [{ observedAt: "2025-01-01T00:00:00.000Z", params: { offset: 7n, ratio: 1n << 48n, fracBits: 48 } }] }),
    );
    const ep = await agentWith(monotonicHostClock, { mapping: () => big });
    const small = await runCliAsync(["sync", "--connect", ep, "--samples", "3", "--interval", "0", "--max-frame", "1024"]);
    expect(small.status).toBe(1);
    expect(small.stderr).toMatch(/frame-too-large: the mapping response is \d+ bytes, more than the 1024 bytes this client accepts/);
    const out = join(tmp, "big-served.json");
    const ok = await runCliAsync(["sync", "--connect", ep, "--samples", "3", "--interval", "0", "--max-frame", "8192", "--out", out]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(big);
    for (const bad of ["0", "16777217", "1.5"]) expect(sync(["--connect", "unix:/x", "--max-frame", bad]).status, bad).toBe(2);
  }, 90_000);

  it("--out and --plot never replace a device: /dev/null is written in place, - is standard output", async () => {
    const ep = await agentWith(monotonicHostClock);
    const r = await runCliAsync(["sync", "--connect", ep, "--samples", "3", "--interval", "0", "--out", "-", "--plot", "/dev/null"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"kind": "paravirt-estimate"/);
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
  });
});
