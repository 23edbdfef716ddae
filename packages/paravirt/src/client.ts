import { randomInt } from "node:crypto";
import type { Duplex } from "node:stream";
import { ClocksourceError, type ClocksourceErrorCode } from "@clocksource/core";
import { clientProof, newClientNonce, proofsEqual, serverProof } from "./auth.js";
import { formatEndpoint, parseEndpoint, type Endpoint } from "./endpoint.js";
import type { Exchange } from "./estimator.js";
import { FrameDecoder } from "./protocol/decoder.js";
import { encodeFrame, HEADER_BYTES, messageName, MSG, PROTOCOL_VERSION, type Frame } from "./protocol/frame.js";
import {
  decodeError,
  decodeMappingResponse,
  decodeProof,
  decodeTimeResponse,
  decodeWelcome,
  encodeHello,
  ERROR_CODE,
  errorCodeName,
  ProtocolViolation,
  type Welcome,
} from "./protocol/messages.js";
import { openStream, OpenError } from "./transport.js";

/** Which way talking to the agent failed. */
export type AgentFailure =
  /** Nobody listens there (ECONNREFUSED). */
  | "connect-refused"
  /** The endpoint does not exist or cannot be opened (no socket file, permission, host unreachable). */
  | "unreachable"
  /** No answer in time (connect, handshake or request). */
  | "timeout"
  /** The agent wants a token we lack, rejected ours, or could not prove it holds it. */
  | "auth-failed"
  /** No protocol version in common. */
  | "version-mismatch"
  /** The agent's bytes broke the protocol. */
  | "protocol"
  /** The agent answered with an ERROR frame (busy, rate-limited, …). */
  | "server-error"
  /** The connection closed under us. */
  | "closed";

const CODE: Record<AgentFailure, ClocksourceErrorCode> = {
  "connect-refused": "IO_ERROR",
  unreachable: "IO_ERROR",
  timeout: "TIMEOUT",
  "auth-failed": "AUTH_FAILED",
  "version-mismatch": "PROTOCOL_ERROR",
  protocol: "PROTOCOL_ERROR",
  "server-error": "PROTOCOL_ERROR",
  closed: "IO_ERROR",
};

/** A typed failure of the guest client: `failure` says which one happened. */
export class AgentError extends ClocksourceError {
  readonly failure: AgentFailure;
  /** The agent's error code when it sent an ERROR frame. */
  readonly serverCode: number | undefined;
  constructor(failure: AgentFailure, message: string, options: { serverCode?: number; cause?: unknown } = {}) {
    super(CODE[failure], message, { cause: options.cause });
    this.name = "AgentError";
    this.failure = failure;
    this.serverCode = options.serverCode;
  }
}

/** Returns true for an {@link AgentError}, optionally of one failure kind. */
export function isAgentError(e: unknown, failure?: AgentFailure): e is AgentError {
  return e instanceof AgentError && (failure === undefined || e.failure === failure);
}

export interface AgentClientOptions {
  readonly endpoint: Endpoint | string;
  /** The shared token; when given, the agent must require it and prove it holds it too. */
  readonly token?: Buffer | null;
  /** Per-request (and handshake) timeout (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Connect timeout (default 3000 ms). */
  readonly connectTimeoutMs?: number;
  /** Extra attempts after a refused/unreachable/timed-out connect, and re-sends of a timed-out request (default 2). */
  readonly retries?: number;
  /** The local (guest) clock, u64 ns; default `process.hrtime.bigint` (CLOCK_MONOTONIC). */
  readonly clock?: () => bigint;
  /** Largest payload accepted from the agent (bounds a served mapping; default 4 MiB). */
  readonly maxPayloadBytes?: number;
  /** Protocol versions offered (default: all this build speaks). */
  readonly versions?: { readonly min: number; readonly max: number };
  /**
   * Gives up: the connect under way, and later every request, fail with the
   * signal's reason when it is an {@link AgentError}, else with an
   * `AgentError` of failure `timeout`. For an overall deadline.
   */
  readonly signal?: AbortSignal;
}

/** The error an aborted signal stands for. */
function abortReason(signal: AbortSignal): AgentError {
  const r: unknown = signal.reason;
  return r instanceof AgentError ? r : new AgentError("timeout", `gave up: ${(r as Error)?.message ?? "aborted"}`);
}

interface Pending {
  readonly expect: number;
  resolve(frame: Frame, t3: bigint): void;
  reject(e: AgentError): void;
}

function openFailure(e: unknown, where: string): AgentError {
  if (e instanceof OpenError) {
    if (e.code === "ECONNREFUSED") return new AgentError("connect-refused", `the agent at ${where} refused the connection (is it running?)`, { cause: e });
    if (e.code === "ETIMEDOUT") return new AgentError("timeout", `connecting to the agent at ${where}: ${e.message}`, { cause: e });
    return new AgentError("unreachable", `cannot reach the agent at ${where}: ${e.message}`, { cause: e });
  }
  return new AgentError("unreachable", `cannot reach the agent at ${where}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal as AbortSignal));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The guest side: connects to an agent, negotiates the version, authenticates
 * when a token is given, and runs time exchanges one at a time (a single
 * outstanding request keeps each exchange's delay honest).
 */
export class AgentClient {
  private readonly pending = new Map<number, Pending>();
  private readonly decoder: FrameDecoder;
  private seq: number;
  private closedReason: AgentError | null = null;
  private welcomeInfo: Welcome | null = null;

  private constructor(
    private readonly stream: Duplex,
    readonly mode: "socket" | "line",
    readonly endpoint: Endpoint,
    private readonly options: Required<Omit<AgentClientOptions, "token" | "endpoint" | "signal">> & { token: Buffer | null; signal: AbortSignal | null },
  ) {
    this.decoder = new FrameDecoder({ maxPayloadBytes: options.maxPayloadBytes, resync: mode === "line" });
    // A random start makes stale responses left on a serial line from an
    // earlier session miss every sequence number we wait for.
    this.seq = randomInt(1, 0x7fffffff);
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", () => undefined);
    stream.on("close", () => this.fail(new AgentError("closed", `the agent at ${formatEndpoint(endpoint)} closed the connection`)));
    const signal = options.signal;
    if (signal) {
      const onAbort = () => this.abort(abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      stream.once("close", () => signal.removeEventListener("abort", onAbort));
    }
  }

  /**
   * Connects (retrying a refused, missing or slow endpoint with back-off),
   * then says hello and authenticates.
   * @throws AgentError
   */
  static async connect(options: AgentClientOptions): Promise<AgentClient> {
    const endpoint = typeof options.endpoint === "string" ? parseEndpoint(options.endpoint) : options.endpoint;
    const opts = {
      timeoutMs: options.timeoutMs ?? 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      retries: options.retries ?? 2,
      clock: options.clock ?? (() => process.hrtime.bigint()),
      maxPayloadBytes: options.maxPayloadBytes ?? 4 * 1024 * 1024,
      versions: options.versions ?? PROTOCOL_VERSION,
      token: options.token ?? null,
      signal: options.signal ?? null,
    };
    const signal = options.signal;
    const where = formatEndpoint(endpoint);
    let last: AgentError | undefined;
    for (let attempt = 0; attempt <= opts.retries; attempt++) {
      if (signal?.aborted) throw abortReason(signal);
      if (attempt > 0) await sleep(Math.min(100 * 2 ** (attempt - 1), 2000), signal);
      let opened;
      try {
        opened = await openStream(endpoint, opts.connectTimeoutMs, signal);
      } catch (e) {
        if (signal?.aborted) throw abortReason(signal);
        last = openFailure(e, where);
        continue;
      }
      if (signal?.aborted) {
        opened.stream.destroy();
        throw abortReason(signal);
      }
      const client = new AgentClient(opened.stream, opened.mode, endpoint, opts);
      try {
        await client.handshake();
        return client;
      } catch (e) {
        client.close();
        if (signal?.aborted) throw abortReason(signal);
        const err = e instanceof AgentError ? e : new AgentError("protocol", (e as Error).message, { cause: e });
        // A refusal on principle (token, version) will not change on retry.
        if (err.failure !== "timeout" && err.failure !== "closed" && !(err.failure === "server-error" && err.serverCode === ERROR_CODE.busy)) throw err;
        last = err;
      }
    }
    throw last ?? new AgentError("unreachable", `cannot reach the agent at ${where}`);
  }

  /** What the agent announced: version, host clock, whether it serves a mapping. */
  get welcome(): Welcome {
    return this.welcomeInfo as Welcome;
  }

  /** True when the session was authenticated with a token. */
  get authenticated(): boolean {
    return this.options.token !== null;
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    return this.seq;
  }

  private onData(chunk: Buffer): void {
    // The receive stamp first, before any decoding work.
    const t3 = this.options.clock();
    for (const ev of this.decoder.push(chunk)) {
      if (ev.problem) {
        // On a line, bytes left from an earlier session are skipped (the decoder resynchronises).
        if (this.mode === "line") continue;
        this.fail(new AgentError("protocol", `the agent sent bytes that are not a frame: ${ev.problem.message}`));
        this.stream.destroy();
        return;
      }
      const f = ev.frame;
      if (f.type === MSG.error) {
        let err;
        try {
          err = decodeError(f.payload);
        } catch (e) {
          this.fail(new AgentError("protocol", `malformed error frame: ${(e as Error).message}`));
          return;
        }
        const failure: AgentFailure = err.code === ERROR_CODE.versionUnsupported ? "version-mismatch" : err.code === ERROR_CODE.authFailed || err.code === ERROR_CODE.authRequired ? "auth-failed" : "server-error";
        const ae = new AgentError(failure, `the agent says: ${errorCodeName(err.code)}: ${err.message}`, { serverCode: err.code });
        const p = this.pending.get(f.seq);
        if (p) {
          this.pending.delete(f.seq);
          p.reject(ae);
        } else if (this.mode === "line") {
          continue; // about an earlier session on this line
        }
        if (err.fatal) {
          // The agent ends this session (a socket) or starts over (a line).
          this.fail(ae);
          if (this.mode === "socket") this.stream.destroy();
          return;
        }
        continue;
      }
      const p = this.pending.get(f.seq);
      if (!p) continue; // a late answer to a request we gave up on, or a stale one on a line
      this.pending.delete(f.seq);
      if (f.type !== p.expect) {
        p.reject(new AgentError("protocol", `expected ${messageName(p.expect)}, got ${messageName(f.type)}`));
        continue;
      }
      p.resolve(f, t3);
    }
  }

  private fail(e: AgentError): void {
    if (!this.closedReason) this.closedReason = e;
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.reject(e);
    }
  }

  /**
   * Sends one frame and waits for its answer. `prepare` runs right before the
   * write (to stamp the send time into the frame).
   */
  private request(type: number, payload: Buffer, expect: number, timeoutMs: number, prepare?: (frame: Buffer) => void): Promise<{ frame: Frame; t3: bigint }> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    const seq = this.nextSeq();
    const frame = encodeFrame(type, seq, payload, this.welcomeInfo?.version ?? this.options.versions.min);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new AgentError("timeout", `no answer to ${messageName(type)} from the agent at ${formatEndpoint(this.endpoint)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, {
        expect,
        resolve: (f, t3) => {
          clearTimeout(timer);
          resolve({ frame: f, t3 });
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      prepare?.(frame);
      this.stream.write(frame);
    });
  }

  private async handshake(): Promise<void> {
    const clientNonce = newClientNonce();
    const { min, max } = this.options.versions;
    const hello = encodeHello({ minVersion: min, maxVersion: max, maxPayloadBytes: this.options.maxPayloadBytes, clientNonce });
    const { frame } = await this.request(MSG.hello, hello, MSG.welcome, this.options.timeoutMs);
    let w: Welcome;
    try {
      w = decodeWelcome(frame.payload);
    } catch (e) {
      throw new AgentError("protocol", `bad welcome from the agent: ${(e as Error).message}`);
    }
    if (w.version < min || w.version > max) throw new AgentError("version-mismatch", `the agent chose protocol version ${w.version}; this client speaks ${min}..${max}`);
    this.welcomeInfo = w;
    const token = this.options.token;
    if (w.authRequired && token === null) throw new AgentError("auth-failed", "the agent requires a token (--token-file FILE)");
    if (!w.authRequired && token !== null) throw new AgentError("auth-failed", "a token was given but the agent does not require one, so it cannot prove it holds it; refusing to trust it");
    if (token !== null) {
      const { frame: ok } = await this.request(MSG.auth, clientProof(token, w.serverNonce, clientNonce), MSG.authOk, this.options.timeoutMs);
      let proof: Buffer;
      try {
        proof = decodeProof(ok.payload, "auth-ok");
      } catch (e) {
        throw new AgentError("protocol", (e as Error).message);
      }
      if (!proofsEqual(proof, serverProof(token, w.serverNonce, clientNonce))) throw new AgentError("auth-failed", "the agent could not prove it holds the token");
    }
  }

  /**
   * One time exchange: t1 (local send), t2/t2' (host receive/transmit), t3
   * (local receive). A timed-out request is re-sent (new sequence number) up to
   * `retries` times; a late answer to an abandoned one is ignored.
   * @throws AgentError
   */
  async exchange(): Promise<Exchange> {
    let last: AgentError | undefined;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      let t1 = 0n;
      try {
        const { frame, t3 } = await this.request(MSG.timeRequest, Buffer.alloc(8), MSG.timeResponse, this.options.timeoutMs, (f) => {
          t1 = this.options.clock();
          f.writeBigUInt64BE(t1, HEADER_BYTES);
        });
        let r;
        try {
          r = decodeTimeResponse(frame.payload);
        } catch (e) {
          throw new AgentError("protocol", (e as ProtocolViolation).message);
        }
        if (r.t1 !== t1) throw new AgentError("protocol", `the agent echoed send time ${r.t1}, expected ${t1}`);
        return { t1, t2: r.hostReceive, t2x: r.hostTransmit, t3 };
      } catch (e) {
        if (!(e instanceof AgentError) || e.failure !== "timeout") throw e;
        last = e;
      }
    }
    throw last as AgentError;
  }

  /**
   * Asks for the exact mapping the agent serves; null when it has none.
   * @throws AgentError
   */
  async fetchMapping(): Promise<string | null> {
    try {
      const { frame } = await this.request(MSG.mappingRequest, Buffer.alloc(0), MSG.mappingResponse, Math.max(this.options.timeoutMs, 5000));
      try {
        return decodeMappingResponse(frame.payload);
      } catch (e) {
        throw new AgentError("protocol", `bad mapping response: ${(e as Error).message}`);
      }
    } catch (e) {
      if (e instanceof AgentError && e.serverCode === ERROR_CODE.noMapping) return null;
      throw e;
    }
  }

  /** Fails everything under way and later with `reason`, and cuts the connection. */
  abort(reason: AgentError): void {
    this.fail(reason);
    this.stream.destroy();
  }

  /** Closes the connection. */
  close(): void {
    this.fail(new AgentError("closed", "the client was closed"));
    if (this.mode === "socket") this.stream.destroy();
    else this.stream.end();
    if (this.mode === "line") setTimeout(() => this.stream.destroy(), 100).unref();
  }
}
