import type { Duplex } from "node:stream";
import { newServerNonce, proofsEqual, clientProof, serverProof } from "./auth.js";
import type { HostClock } from "./host-clock.js";
import { FrameDecoder } from "./protocol/decoder.js";
import { encodeFrame, messageName, MSG, PROTOCOL_VERSION, type Frame } from "./protocol/frame.js";
import {
  decodeHello,
  decodeMappingRequest,
  decodeProof,
  decodeTimeRequest,
  encodeError,
  encodeMappingResponse,
  encodeTimeResponse,
  encodeWelcome,
  ERROR_CODE,
  errorCodeName,
  ProtocolViolation,
  SERVER_NONCE_BYTES,
} from "./protocol/messages.js";

/** The limits and identity one session works with (shared by all sessions of an agent). */
export interface SessionConfig {
  readonly clock: HostClock;
  readonly token: Buffer | null;
  /**
   * The exact mapping to serve, read when asked (it may change on disk), or
   * null. It may answer with a promise: the session waits without blocking
   * the event loop (a mapping file swapped for a FIFO must not stall the agent).
   */
  readonly mapping: (() => string | null | Promise<string | null>) | null;
  readonly maxPayloadBytes: number;
  /** Largest payload accepted before the handshake is complete (HELLO, AUTH): unauthenticated peers cannot make the agent buffer much. */
  readonly preAuthMaxPayloadBytes: number;
  /** Frames per second per session; 0 = no limit. The bucket holds one second's worth. */
  readonly rateLimitPerSecond: number;
  readonly idleTimeoutMs: number;
  readonly frameTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  /** Bytes queued for a peer that does not read before the session is dropped. */
  readonly maxWriteBufferBytes: number;
  /** One line per notable event; `kind` is a fixed category (for rate limiting), never peer text. */
  readonly log: (kind: string, line: string) => void;
}

/** What the owner of a session learns about it. */
export interface SessionHooks {
  /** The session ended (its stream closed). */
  closed(session: AgentSession): void;
  /** A socket session sent a valid HELLO and now owes the token's proof. */
  spoke?(session: AgentSession): void;
  /** The handshake is complete (authenticated when a token is required); false refuses the session as busy. */
  ready?(session: AgentSession): boolean;
}

type State = "hello" | "auth" | "ready";

/**
 * One peer's conversation with the agent. In `socket` mode any protocol
 * error closes the connection (after an ERROR frame); in `line` mode (a serial
 * port or a VMM chardev carrying successive guest sessions) the session resets
 * and waits for the next HELLO instead.
 */
export class AgentSession {
  private readonly decoder: FrameDecoder;
  private state: State = "hello";
  private serverNonce: Buffer = Buffer.alloc(SERVER_NONCE_BYTES);
  private clientNonce: Buffer = Buffer.alloc(0);
  /** The largest payload the client said (in HELLO) it accepts. */
  private clientMaxPayload = 0;
  private version: number = PROTOCOL_VERSION.max;
  private tokens: number;
  private lastRefill: number;
  private createdAt: number;
  /** When the stream was handed to the session. */
  readonly acceptedAt: number;
  private lastFrameAt: number;
  private frameStartedAt = 0;
  private closing = false;
  /** Frames answered, for the log. */
  served = 0;

  constructor(
    private readonly stream: Duplex,
    readonly mode: "socket" | "line",
    readonly label: string,
    private readonly config: SessionConfig,
    private readonly hooks: SessionHooks,
  ) {
    this.decoder = new FrameDecoder({ maxPayloadBytes: Math.min(config.maxPayloadBytes, config.preAuthMaxPayloadBytes), resync: mode === "line" });
    const now = Date.now();
    this.acceptedAt = now;
    this.createdAt = now;
    this.lastFrameAt = now;
    this.lastRefill = now;
    this.tokens = config.rateLimitPerSecond;
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "ECONNRESET" && e.code !== "EPIPE") this.config.log("stream error", `${this.label}: stream error: ${e.message}`);
    });
    stream.on("close", () => {
      this.closing = true;
      this.hooks.closed(this);
    });
    stream.on("end", () => {
      if (this.mode === "socket") stream.end();
    });
  }

  /** True once the handshake is complete. */
  get isReady(): boolean {
    return this.state === "ready";
  }

  /** True when a valid HELLO has been received (the handshake is under way or done). */
  get hasSpoken(): boolean {
    return this.state !== "hello";
  }

  private setState(state: State): void {
    this.state = state;
    // Only a peer through the handshake may send frames up to the full limit.
    this.decoder.limitPayload(state === "ready" ? this.config.maxPayloadBytes : Math.min(this.config.maxPayloadBytes, this.config.preAuthMaxPayloadBytes));
  }

  /**
   * The handshake is complete: asks the owner for a place; refused as busy
   * when there is none. Returns false when refused.
   */
  private becomeReady(seq: number): boolean {
    this.setState("ready");
    if (this.mode === "socket" && this.hooks.ready && !this.hooks.ready(this)) {
      this.fail(ERROR_CODE.busy, "agent busy: every session slot is taken; try again later", seq);
      return false;
    }
    return true;
  }

  /**
   * Sheds a connection still in its handshake (too many are waiting): an
   * ERROR `busy`, then the connection is cut at once so its place is free.
   */
  evict(message: string): void {
    if (this.closing) return;
    this.config.log("shed handshaking connection", `${this.label}: shed: ${message}`);
    this.send(encodeFrame(MSG.error, 0, encodeError({ code: ERROR_CODE.busy, fatal: true, minVersion: PROTOCOL_VERSION.min, maxVersion: PROTOCOL_VERSION.max, message }), this.version));
    this.closing = true;
    this.stream.destroy();
  }

  /** Checks the deadlines; called periodically by the agent. */
  sweep(now: number): void {
    if (this.closing) return;
    const c = this.config;
    if (this.decoder.midFrame && now - this.frameStartedAt > c.frameTimeoutMs) {
      this.fail(ERROR_CODE.timeout, `a frame was started but not completed within ${c.frameTimeoutMs} ms (slow or truncated frame; ${this.decoder.buffered} bytes held)`, 0);
      // On a line, drop the stale partial frame so the next session starts clean.
      this.decoder.reset();
      return;
    }
    if (this.mode === "line") return;
    if (this.state !== "ready" && now - this.createdAt > c.handshakeTimeoutMs) {
      this.fail(ERROR_CODE.timeout, `handshake not completed within ${c.handshakeTimeoutMs} ms`, 0);
      return;
    }
    if (now - this.lastFrameAt > c.idleTimeoutMs) this.fail(ERROR_CODE.timeout, `idle for ${c.idleTimeoutMs} ms`, 0);
  }

  /** Ends the session with a final ERROR frame (agent shutdown). */
  shutdown(message: string): void {
    if (this.closing) return;
    this.send(encodeFrame(MSG.error, 0, encodeError({ code: ERROR_CODE.shuttingDown, fatal: true, minVersion: PROTOCOL_VERSION.min, maxVersion: PROTOCOL_VERSION.max, message }), this.version));
    this.close();
  }

  private onData(chunk: Buffer): void {
    // The receive stamp is taken first: it only has to fall between the
    // client's send and receive times, and the earlier the tighter.
    let hostReceive: bigint;
    try {
      hostReceive = this.config.clock.now();
    } catch (e) {
      this.internalError("reading the host clock", e, 0);
      return;
    }
    if (this.closing) return;
    const wasMid = this.decoder.midFrame;
    const events = this.decoder.push(chunk);
    let completed = false;
    for (const ev of events) {
      if (this.closing) return;
      if (ev.problem) {
        const code = ev.problem.code === "frame-too-large" ? ERROR_CODE.frameTooLarge : ERROR_CODE.badFrame;
        this.fail(code, ev.problem.message, ev.problem.seq);
        if (this.mode === "socket") return;
        continue;
      }
      completed = true;
      this.lastFrameAt = Date.now();
      this.onFrame(ev.frame, hostReceive);
    }
    if (this.decoder.midFrame && (!wasMid || completed)) this.frameStartedAt = Date.now();
  }

  private takeToken(): boolean {
    const rate = this.config.rateLimitPerSecond;
    if (rate === 0) return true;
    const now = Date.now();
    const elapsed = now - this.lastRefill;
    if (elapsed > 0) {
      this.tokens = Math.min(rate, this.tokens + (elapsed * rate) / 1000);
      this.lastRefill = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onFrame(f: Frame, hostReceive: bigint): void {
    if (!this.takeToken()) {
      this.fail(ERROR_CODE.rateLimited, `more than ${this.config.rateLimitPerSecond} frames per second`, f.seq);
      return;
    }
    try {
      if (f.type === MSG.hello) {
        if (this.state !== "hello" && this.mode === "socket") throw new Unexpected(f);
        this.onHello(f);
        return;
      }
      if (f.version < PROTOCOL_VERSION.min || f.version > PROTOCOL_VERSION.max) {
        this.fail(ERROR_CODE.versionUnsupported, `protocol version ${f.version} is not supported (this agent speaks ${PROTOCOL_VERSION.min}..${PROTOCOL_VERSION.max})`, f.seq);
        return;
      }
      if (f.type === MSG.error) {
        this.config.log("peer error frame", `${this.label}: the peer sent an error frame; ${this.mode === "socket" ? "closing" : "resetting session"}`);
        if (this.mode === "socket") this.close();
        else this.setState("hello");
        return;
      }
      if (this.state === "auth") {
        if (f.type !== MSG.auth) throw new Unexpected(f);
        this.onAuth(f);
        return;
      }
      if (this.state !== "ready") {
        if (f.type === MSG.timeRequest || f.type === MSG.mappingRequest) {
          this.fail(ERROR_CODE.unexpectedMessage, `${messageName(f.type)} before hello`, f.seq);
          return;
        }
        throw new Unexpected(f);
      }
      switch (f.type) {
        case MSG.timeRequest: {
          const t1 = decodeTimeRequest(f.payload);
          const frame = encodeFrame(MSG.timeResponse, f.seq, encodeTimeResponse({ t1, hostReceive, hostTransmit: 0n }), this.version);
          // The transmit stamp goes in last, right before the write.
          frame.writeBigUInt64BE(this.config.clock.now(), 16 + 16);
          this.send(frame);
          this.served++;
          return;
        }
        case MSG.mappingRequest: {
          decodeMappingRequest(f.payload);
          this.onMappingRequest(f.seq);
          return;
        }
        default:
          throw new Unexpected(f);
      }
    } catch (e) {
      if (e instanceof Unexpected) this.fail(ERROR_CODE.unexpectedMessage, e.message, f.seq);
      else if (e instanceof ProtocolViolation) this.fail(ERROR_CODE.badFrame, e.message, f.seq);
      else this.internalError(`answering a ${messageName(f.type)} frame`, e, f.seq);
    }
  }

  /**
   * True once the peer has proved it holds the token. Only such a peer may
   * read details of the agent's own failures (paths, errno texts); anyone
   * else gets a generic message and the details go to the log.
   */
  private get peerAuthenticated(): boolean {
    return this.state === "ready" && this.config.token !== null;
  }

  private internalError(what: string, e: unknown, seq: number): void {
    const detail = `internal error ${what}: ${(e as Error)?.message ?? String(e)}`;
    if (this.peerAuthenticated) {
      this.fail(ERROR_CODE.internal, detail, seq);
      return;
    }
    this.config.log("internal error", `${this.label}: ${detail}`);
    this.fail(ERROR_CODE.internal, "internal error in the agent (details are in its log)", seq);
  }

  private onHello(f: Frame): void {
    const hello = decodeHello(f.payload);
    const version = Math.min(hello.maxVersion, PROTOCOL_VERSION.max);
    if (version < hello.minVersion || version < PROTOCOL_VERSION.min) {
      this.fail(ERROR_CODE.versionUnsupported, `no common protocol version: the client speaks ${hello.minVersion}..${hello.maxVersion}, this agent ${PROTOCOL_VERSION.min}..${PROTOCOL_VERSION.max}`, f.seq);
      return;
    }
    this.version = version;
    this.clientNonce = hello.clientNonce;
    this.clientMaxPayload = hello.maxPayloadBytes;
    this.createdAt = Date.now();
    const auth = this.config.token !== null;
    this.serverNonce = auth ? newServerNonce() : Buffer.alloc(SERVER_NONCE_BYTES);
    const welcome = encodeWelcome({
      version,
      authRequired: auth,
      mappingAvailable: this.config.mapping !== null,
      clock: this.config.clock.kind,
      maxPayloadBytes: this.config.maxPayloadBytes,
      clockFrequencyHz: this.config.clock.frequencyHz,
      serverNonce: this.serverNonce,
      rateLimitPerSecond: this.config.rateLimitPerSecond,
    });
    this.send(encodeFrame(MSG.welcome, f.seq, welcome, version));
    if (auth) {
      this.setState("auth");
      if (this.mode === "socket") this.hooks.spoke?.(this);
    } else {
      this.becomeReady(f.seq);
    }
  }

  private onAuth(f: Frame): void {
    const token = this.config.token as Buffer;
    const proof = decodeProof(f.payload, "auth");
    if (!proofsEqual(proof, clientProof(token, this.serverNonce, this.clientNonce))) {
      this.fail(ERROR_CODE.authFailed, "authentication failed: wrong token", f.seq);
      return;
    }
    if (!this.becomeReady(f.seq)) return;
    this.send(encodeFrame(MSG.authOk, f.seq, serverProof(token, this.serverNonce, this.clientNonce), this.version));
  }

  private onMappingRequest(seq: number): void {
    let answer: string | null | Promise<string | null>;
    try {
      answer = this.config.mapping?.() ?? null;
    } catch (e) {
      this.mappingUnreadable(e, seq);
      return;
    }
    if (answer instanceof Promise) {
      answer.then(
        (text) => {
          if (!this.closing) this.sendMapping(text, seq);
        },
        (e: unknown) => {
          if (!this.closing) this.mappingUnreadable(e, seq);
        },
      );
      return;
    }
    this.sendMapping(answer, seq);
  }

  private mappingUnreadable(e: unknown, seq: number): void {
    const detail = `the mapping file cannot be read: ${(e as Error)?.message ?? String(e)}`;
    if (!this.peerAuthenticated) this.config.log("mapping unreadable", `${this.label}: ${detail}`);
    this.sendError(ERROR_CODE.internal, this.peerAuthenticated ? detail : "the mapping cannot be served now (details are in the agent's log)", seq, false);
  }

  private sendMapping(text: string | null, seq: number): void {
    if (text === null) {
      this.sendError(ERROR_CODE.noMapping, "this agent serves no exact mapping (start it with --mapping FILE)", seq, false);
      return;
    }
    const payload = encodeMappingResponse(text);
    if (payload.length > this.clientMaxPayload) {
      // The client would refuse the frame from its header and drop the line.
      this.sendError(ERROR_CODE.frameTooLarge, `the mapping response is ${payload.length} bytes, more than the ${this.clientMaxPayload} bytes this client accepts (its HELLO); connect with a larger limit`, seq, false);
      return;
    }
    this.send(encodeFrame(MSG.mappingResponse, seq, payload, this.version));
  }

  private sendError(code: number, message: string, seq: number, fatal: boolean): void {
    this.send(encodeFrame(MSG.error, seq, encodeError({ code, fatal, minVersion: PROTOCOL_VERSION.min, maxVersion: PROTOCOL_VERSION.max, message }), this.version));
  }

  /**
   * A fatal problem with this peer: log it, tell the peer, then close the
   * connection (socket) or start over (line).
   */
  private fail(code: number, message: string, seq: number): void {
    if (this.closing) return;
    const verb = this.mode === "socket" ? "closing" : "resetting session";
    this.config.log(`${verb}: ${errorCodeName(code)}`, `${this.label}: ${verb}: ${errorCodeName(code)}: ${message}`);
    this.sendError(code, message, seq, true);
    // On a line the decoder resynchronises by itself: only the session restarts.
    if (this.mode === "socket") this.close();
    else this.setState("hello");
  }

  private send(frame: Buffer): void {
    if (this.closing || this.stream.destroyed) return;
    if (this.stream.writableLength > this.config.maxWriteBufferBytes) {
      this.config.log("peer does not read", `${this.label}: dropping: the peer does not read (${this.stream.writableLength} bytes queued)`);
      this.closing = true;
      this.stream.destroy();
      return;
    }
    this.stream.write(frame);
  }

  /** Ends the connection: flush what was written, then force it shut if the peer lingers. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.stream.end();
    const t = setTimeout(() => this.stream.destroy(), 500);
    t.unref();
  }

  /** Closes at once without a goodbye. */
  destroy(): void {
    this.closing = true;
    this.stream.destroy();
  }
}

class Unexpected extends Error {
  constructor(f: Frame) {
    super(`unexpected ${messageName(f.type)} frame here`);
  }
}
