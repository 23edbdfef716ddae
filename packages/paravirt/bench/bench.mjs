// Paravirtual sync benchmark (run by `npm run bench` through bench/run.mjs; needs the build).
//
// 1. Exchanges per second and round-trip p50/p99 over a Unix socket, the agent
//    in another process, against a baseline timed in the same run: a bare echo
//    of the same frame size over the same kind of socket (the ratio is what the
//    protocol, stamping and decoding cost on top of the socket itself).
// 2. Accuracy: on one machine the true offset between the two processes'
//    monotonic clocks is 0, so each session's estimate error is known exactly.
//    Repeated sessions report |error| (median, p90, max), the reported bound,
//    and whether the bound contained the truth every time.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "../dist/index.js");
const { AgentClient, runSyncSession } = await import(dist);

const dir = mkdtempSync(join(tmpdir(), "pv-bench-"));
const agentSock = join(dir, "agent.sock");
const echoSock = join(dir, "echo.sock");

function child(script) {
  const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((res, rej) => {
    p.stdout.once("data", () => res(p));
    p.once("exit", (c) => rej(new Error(`child exited ${c}`)));
  });
}

const agentProc = await child(`const m = await import(${JSON.stringify(dist)});
  const a = new m.HostAgent({ rateLimitPerSecond: 0 });
  await a.listen(m.parseEndpoint(${JSON.stringify(`unix:${agentSock}`)}));
  process.stdout.write("ready\\n");
  process.on("SIGTERM", async () => { await a.close(); process.exit(0); });`);
const echoProc = await child(`const net = await import("node:net");
  net.createServer((s) => s.on("data", (c) => s.write(c))).listen(${JSON.stringify(echoSock)}, () => process.stdout.write("ready\\n"));
  process.on("SIGTERM", () => process.exit(0));`);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
const us = (ns) => `${(Number(ns) / 1000).toFixed(1)} µs`;
const N = 20_000;

// Baseline: one 24-byte write and its echo, sequentially (a time response is 16 + 24 bytes).
async function echoRun() {
  const s = connect(echoSock);
  await new Promise((r) => s.once("connect", r));
  const buf = Buffer.alloc(24);
  const rtts = new Array(N);
  let i = 0;
  let got = 0;
  let t0 = 0n;
  const start = process.hrtime.bigint();
  await new Promise((done) => {
    s.on("data", (c) => {
      got += c.length;
      if (got < 24) return;
      got -= 24;
      rtts[i++] = process.hrtime.bigint() - t0;
      if (i === N) return done();
      t0 = process.hrtime.bigint();
      s.write(buf);
    });
    t0 = process.hrtime.bigint();
    s.write(buf);
  });
  const elapsed = process.hrtime.bigint() - start;
  s.destroy();
  rtts.sort((a, b) => (a < b ? -1 : 1));
  return { rate: (N * 1e9) / Number(elapsed), p50: pct(rtts, 0.5), p99: pct(rtts, 0.99) };
}

async function agentRun() {
  const c = await AgentClient.connect({ endpoint: `unix:${agentSock}` });
  const rtts = new Array(N);
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const e = await c.exchange();
    rtts[i] = e.t3 - e.t1;
  }
  const elapsed = process.hrtime.bigint() - start;
  c.close();
  rtts.sort((a, b) => (a < b ? -1 : 1));
  return { rate: (N * 1e9) / Number(elapsed), p50: pct(rtts, 0.5), p99: pct(rtts, 0.99) };
}

try {
  await echoRun(); // warm-up
  await agentRun();
  const base = await echoRun();
  const agent = await agentRun();
  console.log(`throughput over a Unix socket, agent in another process, ${N} sequential exchanges:`);
  console.log(`  bare echo (baseline)   ${base.rate.toFixed(0).padStart(7)} round trips/s   RTT p50 ${us(base.p50)}  p99 ${us(base.p99)}`);
  console.log(`  agent time exchange    ${agent.rate.toFixed(0).padStart(7)} exchanges/s     RTT p50 ${us(agent.p50)}  p99 ${us(agent.p99)}`);
  console.log(`  ratio agent/baseline   throughput ×${(agent.rate / base.rate).toFixed(2)}   RTT p50 ×${(Number(agent.p50) / Number(base.p50)).toFixed(2)}`);

  const RUNS = 20;
  const SAMPLES = 200;
  const errs = [];
  const bounds = [];
  let contained = 0;
  const c = await AgentClient.connect({ endpoint: `unix:${agentSock}` });
  for (let r = 0; r < RUNS; r++) {
    const e = (await runSyncSession(c, { samples: SAMPLES, intervalMs: 1 })).estimate;
    const err = e.offsetNs < 0n ? -e.offsetNs : e.offsetNs; // truth is 0
    errs.push(Number(err));
    bounds.push(Number(e.errorBoundNs));
    if (err <= e.errorBoundNs && e.lowNs <= 0n && 0n <= e.highNs) contained++;
  }
  c.close();
  errs.sort((a, b) => a - b);
  bounds.sort((a, b) => a - b);
  const med = (xs) => xs[Math.floor(xs.length / 2)];
  console.log(`\naccuracy on one machine (truth: offset 0), ${RUNS} sessions × ${SAMPLES} exchanges, 1 ms apart:`);
  console.log(`  |error|  median ${us(med(errs))}  p90 ${us(pct(errs, 0.9))}  max ${us(errs[errs.length - 1])}`);
  console.log(`  bound    median ±${us(med(bounds))}  min ±${us(bounds[0])}  max ±${us(bounds[bounds.length - 1])}`);
  console.log(`  bound contained the truth in ${contained} of ${RUNS} sessions`);
  console.log(`  goal: median |error| ≤ 5 µs ${med(errs) <= 5000 ? "met" : "NOT met"}; truth always inside the bound ${contained === RUNS ? "met" : "NOT met"}`);
  if (contained !== RUNS) process.exitCode = 1;
} finally {
  agentProc.kill("SIGTERM");
  echoProc.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
