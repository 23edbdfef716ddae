import { statSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { CapabilityProber, checkMappingParams, ClocksourceError, createClockContainer, FACT, parseMappingFile, readUserFile, readUserFileAsync } from "@clocksource/core";
import { ABSOLUTE_MAX_PAYLOAD, formatEndpoint, HostAgent, loadTokenFile, LogLimiter, monotonicHostClock, parseEndpoint, tscHostClock, type AgentOptions, type HostClock } from "@clocksource/paravirt";
import { registerBundledBackends } from "../backend-packages.js";
import { UsageError, type CliIo } from "../cli-io.js";
import { mappingKinds } from "../mapping-kinds.js";
import { parseOptions } from "../parse-options.js";

export const summary = "serve host time to guests (the paravirtual host agent)";

export const help = `Usage: clocksource agent --listen ENDPOINT | --connect ENDPOINT [options]

Runs the host agent: answers time requests stamped with the host clock, over a
Unix socket, TCP, a serial device, or a VMM chardev socket it connects to.
Runs until SIGTERM or SIGINT, then closes every session and removes its socket.

Endpoints:
  unix:PATH         a Unix socket (PATH at most 107 bytes), created with mode 0600 by the
                    bind itself and checked (never chmod'ed: a link swapped in is never
                    followed); a stale socket of a dead agent is taken over, a live one
                    is an error
  tcp:HOST:PORT     TCP (tcp:PORT binds 127.0.0.1); a HOST that is not a loopback address
                    (localhost means 127.0.0.1) needs --token-file, for --listen and --connect
  serial:PATH       a character device, or the Unix socket of a QEMU chardev, as one line

Options:
  --listen EP          listen (or open a serial line) at EP; may be repeated
  --connect EP         connect to where the VMM listens (QEMU -chardev socket,server=on
                       behind a virtio-serial port) and serve that line; may be repeated
  --token-file FILE    require clients to prove they hold this token (HMAC challenge; the
                       token never crosses the wire)
  --mapping FILE       also serve this exact mapping file (kvm-mapping, arm-mapping);
                       re-read whenever it changes, without ever blocking (a FIFO or
                       device put in its place is refused; the last good version is served)
  --clock CLOCK        monotonic (default) or tsc (needs @clocksource/native)
  --tsc-hz HZ          TSC frequency for --clock tsc (default: x86.tsc_frequency_hz as probed)
  --max-connections N  sessions through their handshake (authenticated, with a token)
                       served at once (default 512)
  --max-handshakes N   connections still in their handshake kept at once (default 256);
                       beyond, the agent sheds the oldest silent ones of the source holding
                       the most, never a session through its handshake
  --rate N             frames per second per session (default 10000; 0 = no limit; ≤ 4294967295)
  --idle-timeout SEC   close a socket session idle this long (default 60)
  --frame-timeout SEC  a started frame must complete within this (default 5)
  --max-frame BYTES    largest request payload, 1..${ABSOLUTE_MAX_PAYLOAD} (default 4096)
  --insecure-remote    allow a non-loopback TCP address (listen or connect) without a token
  --quiet              log only start, stop and errors (repeats of one kind of event are
                       always summarised: "… and N more in the last S s")
  -h, --help           show this help

Examples:
  clocksource agent --listen unix:/run/clocksource.sock
                                       serve guests that reach this socket (vsock via socat)
  clocksource agent --connect unix:/run/vm1-clock.sock --mapping vm1.mapping.json
                                       serve a QEMU virtio-serial chardev, and VM1's exact mapping
  clocksource agent --listen tcp:0.0.0.0:7800 --token-file /etc/clocksource/token
                                       over the network, only to clients holding the token

Environment:
  CLOCKSOURCE_NATIVE  0: do not load the native counter reader (--clock tsc needs it)
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

function positiveNumber(name: string, v: string | undefined, dflt: number, opts: { integer?: boolean; allowZero?: boolean; max?: number } = {}): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !opts.allowZero) || (opts.integer && !Number.isInteger(n)) || n > max) {
    const range = opts.max !== undefined ? ` in ${opts.allowZero ? 0 : 1}..${opts.max}` : ` ${opts.allowZero ? "≥ 0" : "> 0"}`;
    throw new UsageError(`agent: --${name} must be a ${opts.integer ? "whole " : ""}number${range}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** The largest mapping file served: what fits in one MAPPING_RESPONSE frame. */
const MAPPING_MAX_BYTES = ABSOLUTE_MAX_PAYLOAD - 4;

/** The text of a mapping file the agent may serve (an exact one); throws a one-line error. */
function servable(path: string, bytes: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ClocksourceError("INVALID_MAPPING", `--mapping ${path} is not UTF-8 text`);
  }
  const file = parseMappingFile(text);
  checkMappingParams(file, mappingKinds());
  if (!file.exact) throw new ClocksourceError("INVALID_MAPPING", `--mapping ${path} is an estimated (${file.kind}) mapping; the agent serves exact ones (kvm-mapping, arm-mapping)`);
  return text;
}

function stampOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}`;
}

/**
 * Serves a mapping file's text, re-reading it when it changes (inode, mtime
 * or size); a bad new version keeps the last good one. The re-read runs
 * without blocking the event loop and refuses anything but a regular file
 * (core's readUserFileAsync): a FIFO swapped in for the file must never stall
 * the agent (it would then ignore SIGTERM). Concurrent requests share one read.
 */
function mappingProvider(path: string, log: (kind: string, line: string) => void): () => Promise<string> {
  let text = servable(path, readUserFile(path, { maxBytes: MAPPING_MAX_BYTES, what: "mapping file" }));
  let stamp = stampOf(statSync(path));
  let inflight: Promise<string> | null = null;
  const refresh = async (): Promise<string> => {
    try {
      const st = await stat(path);
      if (stampOf(st) === stamp) return text;
      const next = servable(path, await readUserFileAsync(path, { maxBytes: MAPPING_MAX_BYTES, what: "mapping file" }));
      text = next;
      stamp = stampOf(st);
      log("mapping re-read", `mapping ${path} re-read`);
    } catch (e) {
      log("mapping not re-read", `mapping ${path} could not be re-read (${(e as Error).message.split("\n")[0]}); serving the last good version`);
    }
    return text;
  };
  return () => {
    inflight ??= refresh().finally(() => {
      inflight = null;
    });
    return inflight;
  };
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("agent", args, {
    options: {
      listen: { type: "string", multiple: true },
      connect: { type: "string", multiple: true },
      "token-file": { type: "string" },
      mapping: { type: "string" },
      clock: { type: "string", default: "monotonic" },
      "tsc-hz": { type: "string" },
      "max-connections": { type: "string" },
      "max-handshakes": { type: "string" },
      rate: { type: "string" },
      "idle-timeout": { type: "string" },
      "frame-timeout": { type: "string" },
      "max-frame": { type: "string" },
      "insecure-remote": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const listens = (values.listen ?? []).map((e) => parseEndpoint(e));
  const connects = (values.connect ?? []).map((e) => parseEndpoint(e));
  if (listens.length + connects.length === 0) throw new UsageError("agent: give --listen ENDPOINT or --connect ENDPOINT (try clocksource agent --help)");
  for (const c of connects) if (c.kind === "serial") throw new UsageError("agent: --connect takes unix:PATH or tcp:HOST:PORT; a serial line is opened with --listen serial:PATH");

  const quiet = values.quiet;
  const line = (text: string) => io.stderr.write(`clocksource agent: ${new Date().toISOString()} ${text}\n`);
  const log = (text: string) => {
    if (!quiet) line(text);
  };
  // The agent summarises its own repeats; this does the same for the mapping's.
  const mappingLog = new LogLimiter(log);

  let token: Buffer | null = null;
  if (values["token-file"] !== undefined) {
    const t = loadTokenFile(values["token-file"]);
    if (t.warning) line(`warning: ${t.warning}`);
    token = t.token;
  }
  let clock: HostClock;
  if (values.clock === "monotonic") {
    if (values["tsc-hz"] !== undefined) throw new UsageError("agent: --tsc-hz goes with --clock tsc");
    clock = monotonicHostClock;
  } else if (values.clock === "tsc") {
    let hz: bigint;
    if (values["tsc-hz"] !== undefined) {
      hz = BigInt(positiveNumber("tsc-hz", values["tsc-hz"], 0, { integer: true }));
    } else {
      const c = createClockContainer({ sysroot: "/", env: io.env });
      registerBundledBackends(c);
      const facts = c.resolve(CapabilityProber).run();
      const f = facts.best(FACT.x86TscFrequencyHz);
      if (!f || typeof f.value !== "number" || !Number.isFinite(f.value) || f.value <= 0) {
        throw new UsageError(`agent: --clock tsc: this machine's TSC frequency is unknown (${facts.unknownReasons(FACT.x86TscFrequencyHz).join("; ") || "no source"}); pass --tsc-hz HZ`);
      }
      hz = BigInt(Math.round(f.value));
      line(`TSC frequency ${hz} Hz from ${f.source} (${f.confidence})`);
      if (facts.value(FACT.x86InvariantTsc) === false) line("warning: the TSC is not invariant here; its stamps may not keep a constant rate");
    }
    clock = await tscHostClock(hz);
  } else {
    throw new UsageError(`agent: --clock must be monotonic or tsc, got ${JSON.stringify(values.clock)}`);
  }
  const options: AgentOptions = {
    clock,
    token,
    mapping: values.mapping !== undefined ? mappingProvider(values.mapping, (kind, text) => mappingLog.log(kind, text)) : null,
    maxConnections: positiveNumber("max-connections", values["max-connections"], 512, { integer: true, max: 1_000_000 }),
    maxHandshakes: positiveNumber("max-handshakes", values["max-handshakes"], 256, { integer: true, max: 1_000_000 }),
    rateLimitPerSecond: positiveNumber("rate", values.rate, 10_000, { integer: true, allowZero: true, max: 0xffff_ffff }),
    idleTimeoutMs: positiveNumber("idle-timeout", values["idle-timeout"], 60) * 1000,
    frameTimeoutMs: positiveNumber("frame-timeout", values["frame-timeout"], 5) * 1000,
    maxPayloadBytes: positiveNumber("max-frame", values["max-frame"], 4096, { integer: true, max: ABSOLUTE_MAX_PAYLOAD }),
    allowRemoteWithoutToken: values["insecure-remote"],
    log,
  };
  const agent = new HostAgent(options);
  let stopping: ((signal: string) => void) | undefined;
  const stopped = new Promise<string>((resolve) => (stopping = resolve));
  const onSignal = (signal: NodeJS.Signals) => stopping?.(signal);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    for (const ep of listens) {
      const info = await agent.listen(ep);
      const extra = info.mode !== undefined ? ` (mode ${info.mode.toString(8).padStart(4, "0")})` : ep.kind === "serial" ? " (serial line)" : "";
      line(`listening on ${formatEndpoint(info.endpoint)}${extra}`);
    }
    for (const ep of connects) {
      await agent.connect(ep);
      line(`connected to ${formatEndpoint(ep)} (serving it as a line; reconnects if it drops)`);
    }
  } catch (e) {
    await agent.close();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    throw e;
  }
  line(`host clock ${clock.domain}${clock.kind === "tsc" ? ` at ${clock.frequencyHz} Hz` : ""}; token ${token ? "required" : "not required"}; mapping ${values.mapping ?? "none"}`);
  const signal = await stopped;
  await agent.close();
  mappingLog.close();
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  line(`${signal}: stopped`);
  return 0;
}
