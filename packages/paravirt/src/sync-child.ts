/**
 * A short sync session run in a child process, so that the backend's
 * synchronous `assess`/`create` can get an answer from the agent with a hard
 * time limit (see docs/paravirt.md, "Why a child process"). Reads one JSON
 * argument and prints one JSON line; never throws.
 */
import { pathToFileURL } from "node:url";
import { loadTokenFile } from "./auth.js";
import { AgentClient, isAgentError } from "./client.js";

/** The child's request. */
export interface ChildRequest {
  readonly endpoint: string;
  readonly tokenFile?: string;
  readonly samples: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** The child's answer: raw exchanges (host stamps in host ticks), as decimal strings. */
export type ChildResponse =
  | {
      readonly ok: true;
      readonly version: number;
      readonly clock: "monotonic" | "tsc";
      readonly frequencyHz: string;
      readonly mappingAvailable: boolean;
      readonly exchanges: ReadonlyArray<readonly [string, string, string, string]>;
    }
  | { readonly ok: false; readonly failure: string; readonly message: string };

async function run(req: ChildRequest): Promise<ChildResponse> {
  let client: AgentClient | undefined;
  try {
    const token = req.tokenFile ? loadTokenFile(req.tokenFile).token : null;
    client = await AgentClient.connect({ endpoint: req.endpoint, token, timeoutMs: req.timeoutMs, connectTimeoutMs: req.timeoutMs, retries: 0 });
    const w = client.welcome;
    const raw: Array<readonly [string, string, string, string]> = [];
    // Host stamps stay in host ticks here; the parent converts and estimates.
    for (let i = 0; i < req.samples; i++) {
      if (i > 0 && req.intervalMs > 0) await new Promise((r) => setTimeout(r, req.intervalMs));
      const e = await client.exchange();
      raw.push([e.t1.toString(), e.t2.toString(), e.t2x.toString(), e.t3.toString()]);
    }
    return { ok: true, version: w.version, clock: w.clock, frequencyHz: w.clockFrequencyHz.toString(), mappingAvailable: w.mappingAvailable, exchanges: raw };
  } catch (e) {
    return { ok: false, failure: isAgentError(e) ? e.failure : "error", message: (e as Error)?.message ?? String(e) };
  } finally {
    client?.close();
  }
}

const arg = process.argv[2];
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && arg !== undefined) {
  let req: ChildRequest | undefined;
  try {
    req = JSON.parse(arg) as ChildRequest;
  } catch {
    process.stdout.write(`${JSON.stringify({ ok: false, failure: "error", message: "bad request" })}\n`);
  }
  if (req) {
    const out = await run(req);
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
  }
}
