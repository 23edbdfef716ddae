// Authenticated work under a flood of connections that never authenticate:
// the time for a guest to connect, prove the token and run 10 exchanges, with
// the agent idle (the baseline, timed in the same run) and while 512
// connections in another process hold handshake slots and reconnect as soon
// as they are shed. Reports the median of 20 tries each and the ratio, and
// how many tries failed (the point: none).
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { AgentClient, HostAgent, parseEndpoint, runSyncSession } = await import(resolve(here, "../dist/index.js"));
const TOKEN = Buffer.from("flood-bench-token-0123456789abcdef");

const agent = new HostAgent({ token: TOKEN, rateLimitPerSecond: 0 });
const port = (await agent.listen(parseEndpoint("tcp:127.0.0.1:0"))).endpoint.port;

async function tries(n) {
  const ms = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    try {
      const c = await AgentClient.connect({ endpoint: `tcp:127.0.0.1:${port}`, token: TOKEN, retries: 0, timeoutMs: 5000 });
      await runSyncSession(c, { samples: 10, intervalMs: 0 });
      c.close();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } catch {
      failed++;
    }
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)] ?? NaN, failed };
}

let flooder;
try {
  await tries(3); // warm-up
  const idle = await tries(20);
  flooder = spawn(process.execPath, [resolve(here, "../test/flooder.mjs"), JSON.stringify({ target: { host: "127.0.0.1", port }, connections: 512, mode: "silent" })], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise((r) => flooder.stdout.on("data", (d) => String(d).includes("ready") && r()));
  const shed0 = agent.admission.shed;
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = Date.now();
  const flooded = await tries(20);
  const shedRate = ((agent.admission.shed - shed0) * 1000) / (Date.now() - t0 + 1500);
  console.log("authenticated connect + 10 exchanges over TCP loopback, median of 20 tries:");
  console.log(`  agent idle (baseline)                ${idle.median.toFixed(1).padStart(7)} ms   failed ${idle.failed}/20`);
  console.log(`  512 unauthenticated connections      ${flooded.median.toFixed(1).padStart(7)} ms   failed ${flooded.failed}/20   ×${(flooded.median / idle.median).toFixed(1)} the baseline`);
  console.log(`  the agent shed ${shedRate.toFixed(0)} flood connections/s; ${agent.admission.handshaking} were in their handshake at the end`);
  if (flooded.failed > 0) process.exitCode = 1;
} finally {
  flooder?.kill("SIGTERM");
  await agent.close();
}
