import {
  appendEpochs,
  buildMappingFile,
  checkMappingParams,
  DOMAIN,
  isClocksourceError,
  parseMappingFile,
  serializeMappingFile,
  writeUserFile,
  type JsonObject,
  type MappingFile,
} from "@clocksource/core";
import {
  ABSOLUTE_MAX_PAYLOAD,
  AgentClient,
  AgentError,
  epochFromSession,
  formatEndpoint,
  isAgentError,
  loadTokenFile,
  paravirtCodec,
  parseEndpoint,
  renderSyncPlot,
  runSyncSession,
  type Endpoint,
  type SyncResult,
} from "@clocksource/paravirt";
import { UsageError, type CliIo } from "../cli-io.js";
import { mappingKinds } from "../mapping-kinds.js";
import { cliVersion } from "../package-versions.js";
import { parseOptions } from "../parse-options.js";

export const summary = "estimate the guest → host clock offset from a host agent";

export const help = `Usage: clocksource sync --connect ENDPOINT [options]

Runs time exchanges with a host agent (clocksource agent) and estimates the
offset host − guest of the monotonic clocks, its drift, and an error bound that
contains the truth (docs/paravirt.md). When the agent serves an exact mapping,
--out saves that one instead.

A session whose exchanges contradict each other (no line with |drift| within
--max-drift-ppm fits them: a clock was stepped, or runs at another rate) is
inconsistent: its bound cannot be trusted. sync then says why on stderr, writes
no --out file unless --force is given (the file then records it), and exits 1.

Options:
  --connect EP         unix:PATH | tcp:HOST:PORT | serial:/dev/virtio-ports/NAME
                       (default: CLOCKSOURCE_AGENT)
  --token-file FILE    prove we hold the agent's token (and require it to prove it too)
  --samples N          exchanges per session (default 200)
  --interval MS        pause between exchanges (default 5; a longer session measures drift better)
  --timeout MS         per-request timeout (default 1000)
  --retries N          connect attempts and re-sends after a timeout (default 2)
  --deadline SEC       give up when a session (connect, exchanges, mapping) has not
                       finished within SEC seconds (default: none; exit 1)
  --max-frame BYTES    largest frame accepted from the agent, 1..${ABSOLUTE_MAX_PAYLOAD}
                       (default 4194304; raise it for a large served mapping)
  --max-drift-ppm N    largest drift believed possible; the bound assumes it (default 1000)
  --json               print JSON (one object; with --watch one object per line)
  --out FILE           write a mapping file guest.monotonic → host clock (or the agent's exact one)
  --estimated          with --out, write the estimate even when the agent serves an exact mapping
  --force              with --out, write the mapping of an inconsistent session too (the
                       file's origin says consistent: false and why; the exit status stays 1)
  --plot FILE          draw the exchanges, the fitted line and the bound as SVG (also for an
                       inconsistent session: it shows why)
  --watch SECONDS      keep re-syncing every SECONDS, appending an epoch per session to --out
                       (an inconsistent session is left out unless --force)
  --count N            with --watch, stop after N sessions
  -h, --help           show this help

FILE may be - for standard output. An existing regular file is replaced
atomically; a symbolic link is followed; /dev/null is written in place; any
other device, a FIFO or a directory is refused (docs/mapping-files.md).

JSON fields: offsetNs (decimal string, host − guest at referenceGuestNs), errorBoundNs,
driftPpm, driftBoundPpm, samplesUsed, delayNs {min, p50, p99, max}, consistent, warnings
and more (docs/paravirt.md). Warnings go to stderr.
Exit status: 0 ok; 1 the agent could not be used or its answers could not be (the
message says why), an inconsistent session, a file that cannot be written; 2 bad options.

Examples:
  clocksource sync --connect serial:/dev/virtio-ports/org.clocksource.0
                                       one session over virtio-serial: offset, drift, bound
  clocksource sync --connect unix:/run/clocksource.sock --json
  clocksource sync --out guest.mapping.json --watch 60
                                       re-sync every minute with CLOCKSOURCE_AGENT

Environment:
  CLOCKSOURCE_AGENT   the agent's endpoint when --connect is not given
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

/** The longest wait a Node timer can hold (2^31 − 1 ms); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

function num(name: string, v: string | undefined, dflt: number, min: number, integer: boolean, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`sync: --${name} must be a ${integer ? "whole " : ""}number ${max < Number.MAX_SAFE_INTEGER ? `in ${min}..${max}` : `≥ ${min}`}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * The mapping file of a session, or a protocol error: stamps that give an
 * offset or drift no mapping can hold (an offset beyond ±2^63 ns, a drift of
 * 10% or more) are the agent's fault, not the user's.
 */
function sessionMapping(build: () => MappingFile): MappingFile {
  try {
    const file = build();
    // The file must read back: what is written is what convert will see.
    parseMappingFile(serializeMappingFile(file));
    return file;
  } catch (e) {
    if (isClocksourceError(e) && (e.code === "INVALID_MAPPING" || e.code === "OUT_OF_RANGE" || e.code === "INVALID_ARGUMENT")) {
      throw new AgentError("protocol", `the agent's time stamps give an estimate no mapping file can hold (${e.message}); is its clock sane?`, { cause: e });
    }
    throw e;
  }
}

function microseconds(ns: bigint): string {
  return `${(Number(ns) / 1000).toFixed(1)} µs`;
}

function signed(v: bigint): string {
  return v < 0n ? `−${-v}` : `+${v}`;
}

interface SessionReport {
  readonly json: JsonObject;
  readonly text: string;
}

function report(endpoint: Endpoint, client: AgentClient, r: SyncResult, epoch: number, notes: { out: string | null; outKind: string | null; plot: string | null; exact: { kind: string; from: string; to: string } | null }): SessionReport {
  const e = r.estimate;
  const json: JsonObject = {
    schema: "clocksource.sync/v1",
    epoch,
    endpoint: formatEndpoint(endpoint),
    protocolVersion: r.protocolVersion,
    authenticated: client.authenticated,
    from: DOMAIN.guestMonotonic,
    to: r.hostDomain,
    referenceGuestNs: e.referenceGuestNs.toString(),
    offsetNs: e.offsetNs.toString(),
    errorBoundNs: Number(e.errorBoundNs),
    intervalNs: { low: e.lowNs.toString(), high: e.highNs.toString() },
    driftPpm: e.driftPpm,
    driftBoundPpm: e.driftBoundPpm,
    samplesSent: e.samplesTotal,
    samplesValid: e.samplesValid,
    samplesUsed: e.samplesUsed,
    delayNs: { min: Number(e.delayNs.min), p50: Number(e.delayNs.p50), p99: Number(e.delayNs.p99), max: Number(e.delayNs.max) },
    maxDriftPpm: e.maxDriftPpm,
    consistent: e.consistent,
    warnings: [...e.warnings],
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt.toISOString(),
    exactMapping: notes.exact,
    out: notes.out,
    outKind: notes.outKind,
    plot: notes.plot,
  };
  const lines = [
    `agent      ${formatEndpoint(endpoint)} — protocol v${r.protocolVersion}, host clock ${r.hostDomain}, authenticated: ${client.authenticated ? "yes" : "no"}`,
    `exchanges  ${e.samplesTotal} sent, ${e.samplesValid} valid, ${e.samplesUsed} kept (minimum delay per time bucket)`,
    `delay      min ${microseconds(e.delayNs.min)} · p50 ${microseconds(e.delayNs.p50)} · p99 ${microseconds(e.delayNs.p99)}`,
    `offset     host − guest = ${signed(e.offsetNs)} ns at guest ${e.referenceGuestNs} ns`,
    `bound      ±${e.errorBoundNs} ns (the truth is within [${signed(e.lowNs)}, ${signed(e.highNs)}] ns)`,
    `drift      ${e.driftPpm >= 0 ? "+" : ""}${e.driftPpm.toFixed(3)} ppm ± ${e.driftBoundPpm.toFixed(3)} ppm (assuming |drift| ≤ ${e.maxDriftPpm} ppm)`,
  ];
  if (!e.consistent) lines.push(`consistent no: the exchanges contradict each other; the bound cannot be trusted (warnings on stderr)`);
  if (notes.exact) lines.push(`exact      the agent serves an exact mapping: ${notes.exact.kind}, ${notes.exact.from} → ${notes.exact.to}`);
  if (notes.out) lines.push(`mapping    wrote ${notes.out} (${notes.outKind})`);
  if (notes.plot) lines.push(`plot       wrote ${notes.plot}`);
  return { json, text: `${epoch > 0 ? "\n" : ""}${lines.join("\n")}\n` };
}

/** The agent's exact mapping, validated; null when it serves none or it is unusable (then a warning). */
async function fetchExact(client: AgentClient, warn: (s: string) => void): Promise<{ text: string; file: MappingFile } | null> {
  if (!client.welcome.mappingAvailable) return null;
  const text = await client.fetchMapping();
  if (text === null) return null;
  try {
    const file = parseMappingFile(text);
    checkMappingParams(file, mappingKinds());
    if (!file.exact) throw new Error(`it is not an exact mapping (kind ${file.kind})`);
    return { text, file };
  } catch (e) {
    warn(`the agent's mapping is unusable, using the estimate: ${(e as Error).message}`);
    return null;
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("sync", args, {
    options: {
      connect: { type: "string" },
      "token-file": { type: "string" },
      samples: { type: "string" },
      interval: { type: "string" },
      timeout: { type: "string" },
      retries: { type: "string" },
      "max-drift-ppm": { type: "string" },
      deadline: { type: "string" },
      "max-frame": { type: "string" },
      json: { type: "boolean", default: false },
      out: { type: "string" },
      estimated: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      plot: { type: "string" },
      watch: { type: "string" },
      count: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const where = values.connect ?? io.env.CLOCKSOURCE_AGENT;
  if (!where) throw new UsageError("sync: give --connect ENDPOINT (or set CLOCKSOURCE_AGENT)");
  const endpoint = parseEndpoint(where);
  const samples = num("samples", values.samples, 200, 1, true);
  if (samples > 1_000_000) throw new UsageError("sync: --samples must be at most 1000000");
  const intervalMs = num("interval", values.interval, 5, 0, false, MAX_TIMER_MS);
  const timeoutMs = num("timeout", values.timeout, 1000, 1, false, MAX_TIMER_MS);
  const retries = num("retries", values.retries, 2, 0, true, 1000);
  const deadlineSeconds = values.deadline === undefined ? null : num("deadline", values.deadline, 0, 0.001, false, MAX_TIMER_MS / 1000);
  const maxFrame = num("max-frame", values["max-frame"], 4 * 1024 * 1024, 1, true, ABSOLUTE_MAX_PAYLOAD);
  const maxDriftPpm = num("max-drift-ppm", values["max-drift-ppm"], 1000, 1e-6, false);
  if (maxDriftPpm > 100_000) throw new UsageError("sync: --max-drift-ppm must be at most 100000");
  const watchSeconds = values.watch === undefined ? null : num("watch", values.watch, 0, 0.001, false, MAX_TIMER_MS / 1000);
  if (values.count !== undefined && watchSeconds === null) throw new UsageError("sync: --count goes with --watch");
  const count = num("count", values.count, Infinity, 1, true);
  if (values.estimated && values.out === undefined) throw new UsageError("sync: --estimated goes with --out");
  if (values.force && values.out === undefined) throw new UsageError("sync: --force goes with --out");
  const token = values["token-file"] !== undefined ? loadTokenFile(values["token-file"]) : null;
  if (token?.warning) io.stderr.write(`clocksource: warning: ${token.warning}\n`);

  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const progress = (done: number, total: number) => {
    if (tty && (done === total || done % 10 === 0)) io.stderr.write(`\rsync: ${done}/${total} exchanges`);
  };
  const clearProgress = () => {
    if (tty) io.stderr.write("\r\x1b[K");
  };
  const warn = (s: string) => io.stderr.write(`clocksource: warning: ${s}\n`);
  const writeOpts = { stdout: io.stdout, stderr: io.stderr };

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let client: AgentClient | null = null;
  let file: MappingFile | null = null;
  let inconsistentSessions = 0;
  const producer = `clocksource sync ${cliVersion()}`;
  try {
    for (let epoch = 0; epoch < count; epoch++) {
      if (epoch > 0) {
        const wait = (watchSeconds as number) * 1000;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          abort.signal.addEventListener("abort", () => {
            clearTimeout(t);
            resolve();
          }, { once: true });
        });
        if (abort.signal.aborted) break;
      }
      let result: SyncResult;
      let exact: { text: string; file: MappingFile } | null;
      // The deadline covers the whole session: connect, handshake, mapping, exchanges.
      const session = new AbortController();
      const expired = deadlineSeconds === null ? undefined : setTimeout(() => {
        const err = new AgentError("timeout", `no result within the --deadline of ${deadlineSeconds} s`);
        session.abort(err);
        client?.abort(err);
      }, deadlineSeconds * 1000);
      try {
        client ??= await AgentClient.connect({ endpoint, token: token?.token ?? null, timeoutMs, retries, maxPayloadBytes: maxFrame, signal: session.signal });
        exact = await fetchExact(client, warn);
        result = await runSyncSession(client, { samples, intervalMs, maxDriftPpm, onProgress: progress, signal: abort.signal });
      } catch (e) {
        clearProgress();
        if (session.signal.aborted) {
          client?.close();
          client = null;
        }
        // Once --watch has synced, a lost agent is retried at the next epoch.
        const transient = isAgentError(e) && ["closed", "timeout", "connect-refused", "unreachable"].includes(e.failure);
        if (watchSeconds !== null && epoch > 0 && transient) {
          warn(`epoch ${epoch}: ${(e as Error).message}; trying again at the next epoch`);
          client?.close();
          client = null;
          continue;
        }
        throw e;
      } finally {
        clearTimeout(expired);
      }
      clearProgress();
      const est = result.estimate;
      for (const w of est.warnings) warn(w);
      const inconsistent = !est.consistent;
      if (inconsistent) inconsistentSessions++;
      let outKind: string | null = null;
      if (values.out !== undefined && inconsistent && !values.force) {
        io.stderr.write(`clocksource: sync: ${watchSeconds !== null ? `epoch ${epoch}: ` : ""}the session is inconsistent (no line with |drift| ≤ ${est.maxDriftPpm} ppm fits its exchanges): ${values.out} not ${file === null ? "written" : "extended"} (--force writes it anyway)\n`);
      } else if (values.out !== undefined) {
        if (exact && !values.estimated) {
          await writeUserFile(values.out, exact.text.endsWith("\n") ? exact.text : `${exact.text}\n`, { what: "mapping file", ...writeOpts });
          outKind = `exact ${exact.file.kind} mapping served by the agent`;
        } else {
          const previous: MappingFile | null = file;
          // The first session describes where the file came from; a forced
          // inconsistent session marks the whole file, with its reasons.
          const base: JsonObject = (previous?.origin as JsonObject | null | undefined) ?? {
            endpoint: formatEndpoint(endpoint),
            protocolVersion: result.protocolVersion,
            samplesSent: est.samplesTotal,
            samplesUsed: est.samplesUsed,
            delayMinNs: est.delayNs.min.toString(),
            maxDriftPpm: est.maxDriftPpm,
            consistent: true,
          };
          const reasons = Array.isArray(base.inconsistent) ? (base.inconsistent as string[]) : [];
          const origin: JsonObject = inconsistent
            ? { ...base, consistent: false, inconsistent: [...reasons, ...est.warnings.map((w) => `epoch ${previous?.epochs.length ?? 0}: ${w}`)] }
            : base;
          const validFrom: bigint | null = previous === null ? null : (result.exchanges[0]?.t1 ?? null);
          const next = sessionMapping(() => {
            const one: MappingFile = buildMappingFile(paravirtCodec, { from: DOMAIN.guestMonotonic, to: result.hostDomain, producer, origin, epochs: [epochFromSession(result, validFrom)] });
            return previous === null ? one : { ...appendEpochs(previous, one.epochs), origin };
          });
          file = next;
          await writeUserFile(values.out, serializeMappingFile(next), { what: "mapping file", ...writeOpts });
          outKind = `estimated${inconsistent ? " (INCONSISTENT, forced)" : ""}, ${next.from} → ${next.to}, ${next.epochs.length} epoch${next.epochs.length > 1 ? "s" : ""}`;
        }
      }
      if (values.plot !== undefined) {
        await writeUserFile(values.plot, renderSyncPlot(est, { title: `clocksource sync · ${formatEndpoint(endpoint)} · ${result.endedAt.toISOString()}` }), { what: "plot", ...writeOpts });
      }
      const exactInfo = exact ? { kind: exact.file.kind, from: exact.file.from, to: exact.file.to } : null;
      const rep = report(endpoint, client, result, epoch, { out: outKind !== null ? (values.out as string) : null, outKind, plot: values.plot ?? null, exact: exactInfo });
      io.stdout.write(values.json ? `${JSON.stringify(rep.json, null, watchSeconds === null ? 2 : undefined)}\n` : rep.text);
      if (watchSeconds === null || abort.signal.aborted) break;
    }
    if (inconsistentSessions > 0) {
      io.stderr.write(`clocksource: sync: ${inconsistentSessions} inconsistent session${inconsistentSessions > 1 ? "s" : ""}; the estimate cannot be trusted (exit 1)\n`);
      return 1;
    }
    return 0;
  } catch (e) {
    clearProgress();
    if (isAgentError(e)) {
      io.stderr.write(`clocksource: sync failed (${e.failure}): ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    client?.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
