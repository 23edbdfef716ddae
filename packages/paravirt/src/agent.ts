import { statSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ClocksourceError, describeErrno } from "@clocksource/core";
import { HandshakePool, sourceOf } from "./admission.js";
import { AgentSession, type SessionConfig, type SessionHooks } from "./agent-session.js";
import { checkUnixPathLength, formatEndpoint, isLoopbackHost, literalTcpHost, type Endpoint } from "./endpoint.js";
import { monotonicHostClock, type HostClock } from "./host-clock.js";
import { LogLimiter } from "./log-limiter.js";
import { ABSOLUTE_MAX_PAYLOAD, encodeFrame, MSG, PROTOCOL_VERSION } from "./protocol/frame.js";
import { encodeError, ERROR_CODE } from "./protocol/messages.js";
import { connectSocket, openDevice, OpenError } from "./transport.js";
import { clearStaleSocket, removeSocketFile, socketDirWarning, verifyBoundSocket, type SocketFileIdentity } from "./unix-socket-file.js";

/** Largest payload a peer may send before its handshake is done (HELLO is 24 bytes, AUTH 32). */
export const PRE_AUTH_MAX_PAYLOAD = 4096;

/** How an agent behaves; every field has a safe default. */
export interface AgentOptions {
  /** The clock to stamp with (default: the OS monotonic clock). */
  readonly clock?: HostClock;
  /** A shared token: clients must prove they hold it (HMAC challenge–response). */
  readonly token?: Buffer | null;
  /**
   * Returns the exact mapping file's text to serve, or null when there is
   * none; may return a promise (read the file without blocking the event loop).
   */
  readonly mapping?: (() => string | null | Promise<string | null>) | null;
  /** Largest request payload accepted, 1..{@link ABSOLUTE_MAX_PAYLOAD} (default 4096 bytes). */
  readonly maxPayloadBytes?: number;
  /**
   * Socket sessions through their handshake (authenticated, when a token is
   * required) served at once (default 512); more are refused with a `busy`
   * error frame. Connections still in their handshake do not count here.
   */
  readonly maxConnections?: number;
  /**
   * Socket connections still in their handshake (no HELLO yet, or no proof of
   * the token yet) kept at once before the agent sheds some (default 256):
   * from the source holding the most, silent ones before those that said
   * HELLO, oldest first, none younger than `handshakeGraceMs` — unless four
   * times this many are waiting. Unauthenticated peers thus never take an
   * authenticated session's place, and a new connection always gets a chance.
   */
  readonly maxHandshakes?: number;
  /** How long a new connection is safe from being shed, ms (default 500). */
  readonly handshakeGraceMs?: number;
  /** Frames per second one session may send, 0..2^32−1 (default 10000; 0 = no limit). */
  readonly rateLimitPerSecond?: number;
  /** A socket session with no complete frame for this long is closed (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** A frame whose first byte arrived must be complete within this (default 5 s). */
  readonly frameTimeoutMs?: number;
  /** HELLO (and authentication) must be done within this after connecting (default 5 s). */
  readonly handshakeTimeoutMs?: number;
  /** Queued output above which a peer that does not read is dropped (default 1 MiB). */
  readonly maxWriteBufferBytes?: number;
  /** Allow a TCP listener on (or a `connect` to) a non-loopback address without a token. */
  readonly allowRemoteWithoutToken?: boolean;
  /**
   * Receives one line per notable event (refused, closed, errors). Repeats of
   * one kind are summarised (`… and N more in the last S s`) after
   * `logBurst` lines per 10 s.
   */
  readonly log?: (line: string) => void;
  /** Lines of one kind logged per 10 s before the rest are summarised (default 5). */
  readonly logBurst?: number;
}

/** What a listener ended up bound to. */
export interface ListenInfo {
  /** The endpoint as bound (a TCP port 0 resolved to the real port). */
  readonly endpoint: Endpoint;
  /** Permission bits of a Unix socket file. */
  readonly mode?: number;
}

/**
 * The host agent: answers time requests stamped with the host clock, over any
 * number of listeners (Unix socket, TCP) and long-lived lines (a serial device,
 * a VMM chardev socket it connects to). It never lets one peer's misbehaviour
 * affect another: each session is limited, timed and closed on its own.
 */
export class HostAgent {
  private readonly config: SessionConfig;
  private readonly maxConnections: number;
  private readonly allowRemote: boolean;
  private readonly servers: Server[] = [];
  private readonly unixFiles: SocketFileIdentity[] = [];
  private readonly sessions = new Set<AgentSession>();
  /** Socket sessions through their handshake. */
  private readonly established = new Set<AgentSession>();
  /** Socket connections still in their handshake. */
  private readonly handshaking: HandshakePool<AgentSession>;
  /** Sockets refused as over the limit, until they close. */
  private readonly refused = new Set<Socket>();
  private readonly logs: LogLimiter;
  private shedCount = 0;
  private refusedCount = 0;
  private readonly lines = new Set<{ stop(): void }>();
  private readonly sweeper: NodeJS.Timeout;
  private nextId = 1;
  private closed = false;

  /**
   * @throws ClocksourceError `INVALID_ARGUMENT` for a limit the protocol cannot
   *   carry: `maxPayloadBytes` outside 1..{@link ABSOLUTE_MAX_PAYLOAD}, or
   *   `rateLimitPerSecond` outside 0..2^32−1 (both are announced in WELCOME)
   */
  constructor(options: AgentOptions = {}) {
    this.logs = new LogLimiter(options.log ?? (() => undefined), { burst: options.logBurst ?? 5 });
    const log = (kind: string, line: string) => this.logs.log(kind, line);
    this.config = {
      clock: options.clock ?? monotonicHostClock,
      token: options.token ?? null,
      mapping: options.mapping ?? null,
      maxPayloadBytes: checkedLimit("maxPayloadBytes", options.maxPayloadBytes ?? 4096, 1, ABSOLUTE_MAX_PAYLOAD),
      preAuthMaxPayloadBytes: PRE_AUTH_MAX_PAYLOAD,
      rateLimitPerSecond: checkedLimit("rateLimitPerSecond", options.rateLimitPerSecond ?? 10_000, 0, 0xffff_ffff),
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      frameTimeoutMs: options.frameTimeoutMs ?? 5_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5_000,
      maxWriteBufferBytes: options.maxWriteBufferBytes ?? 1024 * 1024,
      log,
    };
    this.maxConnections = checkedLimit("maxConnections", options.maxConnections ?? 512, 1, 1_000_000);
    const soft = checkedLimit("maxHandshakes", options.maxHandshakes ?? 256, 1, 1_000_000);
    this.handshaking = new HandshakePool({ soft, hard: soft * 4, graceMs: checkedLimit("handshakeGraceMs", options.handshakeGraceMs ?? 500, 0, 60_000) });
    this.allowRemote = options.allowRemoteWithoutToken ?? false;
    const c = this.config;
    const period = Math.max(10, Math.min(1000, Math.floor(Math.min(c.idleTimeoutMs, c.frameTimeoutMs, c.handshakeTimeoutMs) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions) s.sweep(now);
      this.shed(now);
    }, period);
    this.sweeper.unref();
  }

  /** Sessions open now (socket and line). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** How admission stands: sessions through their handshake, connections in it, and how many were shed or refused so far. */
  get admission(): { readonly established: number; readonly handshaking: number; readonly shed: number; readonly refused: number } {
    return { established: this.established.size, handshaking: this.handshaking.size, shed: this.shedCount, refused: this.refusedCount };
  }

  /** The host clock's domain (`host.monotonic`, `host.tsc`). */
  get clockDomain(): string {
    return this.config.clock.domain;
  }

  /**
   * Listens on `unix:` or `tcp:`, or serves a `serial:` device or chardev
   * socket as one long-lived line (reopened when it ends).
   * @throws ClocksourceError `INVALID_ARGUMENT` (unsafe TCP address), `IO_ERROR` (cannot bind/open)
   */
  async listen(endpoint: Endpoint): Promise<ListenInfo> {
    if (this.closed) throw new ClocksourceError("INVALID_ARGUMENT", "the agent is closed");
    switch (endpoint.kind) {
      case "unix":
        return this.listenUnix(endpoint.path);
      case "tcp":
        return this.listenTcp(endpoint.host, endpoint.port);
      case "serial":
        await this.serveLine(endpoint, true);
        return { endpoint };
    }
  }

  /**
   * Connects to where a VMM listens (QEMU `-chardev socket,server=on` behind a
   * virtio-serial port) and serves that connection as a line, reconnecting
   * with back-off when it drops. While it does, the process stays alive (as
   * it does for a listener) until {@link close}.
   * @throws ClocksourceError `INVALID_ARGUMENT` (a non-loopback TCP address
   *   without a token), `IO_ERROR` when the first connection fails
   */
  async connect(endpoint: Endpoint): Promise<void> {
    if (this.closed) throw new ClocksourceError("INVALID_ARGUMENT", "the agent is closed");
    if (endpoint.kind === "tcp") {
      const host = literalTcpHost(endpoint.host);
      this.checkTcpExposure("connect to", host, endpoint.port);
      endpoint = { kind: "tcp", host, port: endpoint.port };
    }
    await this.serveLine(endpoint, false);
  }

  /**
   * Serves an already-open stream (tests, custom transports). It is trusted
   * like a line: not subject to the admission limits of accepted sockets.
   */
  serveStream(stream: Duplex, mode: "socket" | "line", label: string): AgentSession {
    return this.startSession(stream, mode, label, { closed: (s) => this.sessions.delete(s) });
  }

  private startSession(stream: Duplex, mode: "socket" | "line", label: string, hooks: SessionHooks): AgentSession {
    const session = new AgentSession(stream, mode, label, this.config, hooks);
    this.sessions.add(session);
    return session;
  }

  private acceptSocket(kind: string, listener: string, socket: Socket): void {
    const label = `#${this.nextId++} ${kind}${socket.remoteAddress ? ` ${socket.remoteAddress}:${socket.remotePort}` : ""}`;
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.on("error", () => undefined);
    if (this.established.size >= this.maxConnections) {
      this.refuse(socket, label);
      return;
    }
    if (kind === "tcp") socket.setNoDelay(true);
    const session = this.startSession(socket, "socket", label, {
      closed: (s) => {
        this.sessions.delete(s);
        this.handshaking.delete(s);
        this.established.delete(s);
      },
      spoke: (s) => this.handshaking.markSpoke(s),
      ready: (s) => {
        this.handshaking.delete(s);
        if (this.established.size >= this.maxConnections) return false;
        this.established.add(s);
        return true;
      },
    });
    const now = Date.now();
    this.handshaking.add(session, sourceOf(socket.remoteAddress, listener), now);
    this.shed(now);
  }

  /** Every session slot is taken by a session through its handshake: a `busy` frame, then close. */
  private refuse(socket: Socket, label: string): void {
    this.refusedCount++;
    this.config.log("refused: busy", `${label}: refused: ${this.maxConnections} sessions already open`);
    const frame = encodeFrame(MSG.error, 0, encodeError({ code: ERROR_CODE.busy, fatal: true, minVersion: PROTOCOL_VERSION.min, maxVersion: PROTOCOL_VERSION.max, message: `agent busy: ${this.maxConnections} sessions open` }));
    if (this.refused.size >= 64) {
      // Under a flood, lingering politely would hold a socket per refusal.
      socket.write(frame);
      socket.destroy();
      return;
    }
    socket.end(frame);
    // Read (and drop) what the peer sends so its close is seen at once.
    socket.resume();
    this.refused.add(socket);
    socket.once("close", () => this.refused.delete(socket));
    setTimeout(() => socket.destroy(), 500).unref();
  }

  /** Sheds handshaking connections while there are too many (see {@link AgentOptions.maxHandshakes}). */
  private shed(now: number): void {
    for (let v = this.handshaking.nextVictim(now); v !== null; v = this.handshaking.nextVictim(now)) {
      this.handshaking.delete(v);
      this.shedCount++;
      v.evict(`agent busy: more than ${this.handshaking.limits.soft} connections are waiting for their handshake; try again`);
    }
  }

  private async startServer(kind: string, listener: string, listen: (server: Server) => void): Promise<Server> {
    const server = createServer((socket) => this.acceptSocket(kind, listener, socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.removeListener("error", reject);
        resolve();
      });
      listen(server);
    });
    server.on("error", (e) => this.config.log(`${kind} listener error`, `${kind} listener error: ${e.message}`));
    this.servers.push(server);
    return server;
  }

  /**
   * Binds a Unix socket at `path`. The file is created with mode 0600 by the
   * bind itself (under a umask of 0177) and never chmod'ed afterwards: a chmod
   * by path follows a symbolic link that another user may have swapped in
   * (a world-writable directory without the sticky bit). What is at the path
   * after the bind is checked with lstat (a socket of ours, mode 0600), and a
   * stale socket is taken over without a race (see `clearStaleSocket`).
   */
  private async listenUnix(path: string): Promise<ListenInfo> {
    checkUnixPathLength(path);
    const listener = `unix:${path}`;
    for (let attempt = 0; attempt < 8; attempt++) {
      let server: Server;
      try {
        // Node binds a path synchronously inside listen(), so the umask is
        // restored right after and never applies to anything else.
        server = await this.startServer("unix", listener, (s) => {
          const old = process.umask(0o177);
          try {
            s.listen(path);
          } finally {
            process.umask(old);
          }
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
          await clearStaleSocket(path);
          continue;
        }
        throw ioError(`cannot listen on unix:${path}`, e);
      }
      let id: SocketFileIdentity;
      try {
        id = await verifyBoundSocket(path);
      } catch (e) {
        this.servers.splice(this.servers.indexOf(server), 1);
        await new Promise<void>((r) => server.close(() => r()));
        throw e;
      }
      this.unixFiles.push(id);
      const warning = socketDirWarning(path);
      if (warning) this.config.log("socket directory", `warning: ${warning}`);
      return { endpoint: { kind: "unix", path }, mode: id.mode };
    }
    throw new ClocksourceError("IO_ERROR", `cannot listen on unix:${path}: the path keeps changing (another agent starting on it?)`);
  }

  /**
   * The one rule for TCP, listening or connecting: a non-loopback address
   * carries the host's clock to whoever can reach it, so it needs a token
   * (or an explicit `allowRemoteWithoutToken`). `host` must already be literal
   * ({@link literalTcpHost}): a name is not trusted to resolve to loopback.
   */
  private checkTcpExposure(verb: "listen on" | "connect to", host: string, port: number): void {
    if (isLoopbackHost(host) || this.config.token !== null || this.allowRemote) return;
    const where = formatEndpoint({ kind: "tcp", host, port });
    throw new ClocksourceError(
      "INVALID_ARGUMENT",
      `refusing to ${verb} ${where} without a token: anyone who can reach it could query this host's clock; use --token-file FILE (or a loopback address such as 127.0.0.1), or --insecure-remote`,
    );
  }

  private async listenTcp(requestedHost: string, port: number): Promise<ListenInfo> {
    const host = literalTcpHost(requestedHost);
    this.checkTcpExposure("listen on", host, port);
    let server: Server;
    try {
      server = await this.startServer("tcp", `tcp:${host}:${port}`, (s) => s.listen({ host, port }));
    } catch (e) {
      throw ioError(`cannot listen on tcp:${host}:${port}`, e);
    }
    const addr = server.address() as AddressInfo;
    return { endpoint: { kind: "tcp", host: addr.address, port: addr.port } };
  }

  /**
   * Keeps one line session alive: open, serve until it ends, wait, reopen.
   * The first open must succeed (so a typo fails loudly); later ones retry.
   */
  private async serveLine(endpoint: Endpoint, isListen: boolean): Promise<void> {
    const where = formatEndpoint(endpoint);
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let current: AgentSession | undefined;
    const handle = {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        current?.destroy();
      },
    };
    const open = async (): Promise<Duplex> => {
      if (endpoint.kind === "tcp") return connectSocket({ host: endpoint.host, port: endpoint.port }, 5000);
      if (endpoint.kind === "unix") return connectSocket({ path: endpoint.path }, 5000);
      let isSocket = false;
      try {
        isSocket = statSync(endpoint.path).isSocket();
      } catch {
        // missing: openDevice reports it
      }
      return isSocket ? connectSocket({ path: endpoint.path }, 5000) : openDevice(endpoint.path);
    };
    let delay = 100;
    const start = (stream: Duplex) => {
      if (stopped || this.closed) {
        // Closed while this connection was being made: it must not linger.
        stream.destroy();
        return;
      }
      delay = 100;
      current = this.serveStream(stream, "line", `line ${where}`);
      stream.once("close", () => {
        if (stopped || this.closed) return;
        this.config.log(`line closed: ${where}`, `line ${where}: closed; reopening`);
        schedule();
      });
    };
    const schedule = () => {
      timer = setTimeout(() => {
        open().then(start, (e: unknown) => {
          if (stopped || this.closed) return;
          delay = Math.min(delay * 2, 5000);
          this.config.log(`line retry: ${where}`, `line ${where}: cannot ${isListen ? "open" : "connect"}: ${(e as Error).message}; retrying in ${delay} ms`);
          schedule();
        });
      }, delay);
      // Deliberately not unref'd: between two connections this timer is all
      // that keeps the process (e.g. `agent --connect` alone) alive.
    };
    let first: Duplex;
    try {
      first = await open();
    } catch (e) {
      throw ioError(`cannot ${isListen ? "open" : "connect to"} ${where}`, e);
    }
    this.lines.add(handle);
    start(first);
  }

  /**
   * Stops listening, says goodbye to every session (an ERROR `shutting-down`
   * frame), and removes the Unix socket files it created.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const l of this.lines) l.stop();
    const closing = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of this.sessions) s.shutdown("the agent is shutting down");
    // Peers get a moment to read the goodbye; then whatever is left is cut.
    const force = setTimeout(() => {
      for (const s of this.sessions) s.destroy();
      for (const s of this.refused) s.destroy();
    }, 300);
    // Only the socket this agent created, not one that replaced it.
    for (const f of this.unixFiles.splice(0)) removeSocketFile(f);
    await Promise.all(closing);
    clearTimeout(force);
    this.logs.close();
  }
}

function ioError(what: string, e: unknown): ClocksourceError {
  const err = e as NodeJS.ErrnoException;
  const why = err instanceof OpenError ? err.message
    : err?.code === "EADDRINUSE" ? "address already in use"
    : err?.code === "EACCES" ? "permission denied"
    : err?.code === "ENOENT" ? "no such directory"
    : err?.code === "EADDRNOTAVAIL" ? "address not available on this machine"
    : describeErrno(e);
  return new ClocksourceError("IO_ERROR", `${what}: ${why}`, { cause: e });
}

function checkedLimit(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ClocksourceError("INVALID_ARGUMENT", `${name} must be a whole number in ${min}..${max}, got ${value}`);
  }
  return value;
}
