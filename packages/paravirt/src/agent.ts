import { chmodSync, lstatSync, statSync, unlinkSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ClocksourceError, describeErrno } from "@clocksource/core";
import { AgentSession, type SessionConfig } from "./agent-session.js";
import { formatEndpoint, isLoopbackHost, literalTcpHost, type Endpoint } from "./endpoint.js";
import { monotonicHostClock, type HostClock } from "./host-clock.js";
import { ABSOLUTE_MAX_PAYLOAD, encodeFrame, MSG, PROTOCOL_VERSION } from "./protocol/frame.js";
import { encodeError, ERROR_CODE } from "./protocol/messages.js";
import { connectSocket, openDevice, OpenError } from "./transport.js";

/** How an agent behaves; every field has a safe default. */
export interface AgentOptions {
  /** The clock to stamp with (default: the OS monotonic clock). */
  readonly clock?: HostClock;
  /** A shared token: clients must prove they hold it (HMAC challenge–response). */
  readonly token?: Buffer | null;
  /** Returns the exact mapping file's text to serve, or null when there is none. */
  readonly mapping?: (() => string | null) | null;
  /** Largest request payload accepted, 1..{@link ABSOLUTE_MAX_PAYLOAD} (default 4096 bytes). */
  readonly maxPayloadBytes?: number;
  /** Socket sessions served at once (default 512); more are refused with a `busy` error frame. */
  readonly maxConnections?: number;
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
  /** Receives one line per notable event (refused, closed, errors). */
  readonly log?: (line: string) => void;
}

/** What a listener ended up bound to. */
export interface ListenInfo {
  /** The endpoint as bound (a TCP port 0 resolved to the real port). */
  readonly endpoint: Endpoint;
  /** Permission bits of a Unix socket file. */
  readonly mode?: number;
}

interface UnixFile {
  readonly path: string;
  readonly ino: number;
  readonly dev: number;
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
  private readonly unixFiles: UnixFile[] = [];
  private readonly sessions = new Set<AgentSession>();
  /** Sockets refused as over the limit, until they close. */
  private readonly refused = new Set<Socket>();
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
    const log = options.log ?? (() => undefined);
    this.config = {
      clock: options.clock ?? monotonicHostClock,
      token: options.token ?? null,
      mapping: options.mapping ?? null,
      maxPayloadBytes: checkedLimit("maxPayloadBytes", options.maxPayloadBytes ?? 4096, 1, ABSOLUTE_MAX_PAYLOAD),
      rateLimitPerSecond: checkedLimit("rateLimitPerSecond", options.rateLimitPerSecond ?? 10_000, 0, 0xffff_ffff),
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      frameTimeoutMs: options.frameTimeoutMs ?? 5_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5_000,
      maxWriteBufferBytes: options.maxWriteBufferBytes ?? 1024 * 1024,
      log,
    };
    this.maxConnections = options.maxConnections ?? 512;
    this.allowRemote = options.allowRemoteWithoutToken ?? false;
    const c = this.config;
    const period = Math.max(10, Math.min(1000, Math.floor(Math.min(c.idleTimeoutMs, c.frameTimeoutMs, c.handshakeTimeoutMs) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions) s.sweep(now);
    }, period);
    this.sweeper.unref();
  }

  /** Sessions open now (socket and line). */
  get sessionCount(): number {
    return this.sessions.size;
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

  /** Serves an already-open stream (tests, custom transports). */
  serveStream(stream: Duplex, mode: "socket" | "line", label: string): AgentSession {
    const session = new AgentSession(stream, mode, label, this.config, (s) => this.sessions.delete(s));
    this.sessions.add(session);
    return session;
  }

  private acceptSocket(kind: string, socket: Socket): void {
    const label = `#${this.nextId++} ${kind}${socket.remoteAddress ? ` ${socket.remoteAddress}:${socket.remotePort}` : ""}`;
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.on("error", () => undefined);
    if (this.sessions.size >= this.maxConnections) {
      this.config.log(`${label}: refused: ${this.maxConnections} sessions already open`);
      socket.end(encodeFrame(MSG.error, 0, encodeError({ code: ERROR_CODE.busy, fatal: true, minVersion: PROTOCOL_VERSION.min, maxVersion: PROTOCOL_VERSION.max, message: `agent busy: ${this.maxConnections} sessions open` })));
      // Read (and drop) what the peer sends so its close is seen at once.
      socket.resume();
      this.refused.add(socket);
      socket.once("close", () => this.refused.delete(socket));
      setTimeout(() => socket.destroy(), 500).unref();
      return;
    }
    if (kind === "tcp") socket.setNoDelay(true);
    this.serveStream(socket, "socket", label);
  }

  private async startServer(kind: string, listen: (server: Server) => void): Promise<Server> {
    const server = createServer((socket) => this.acceptSocket(kind, socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.removeListener("error", reject);
        resolve();
      });
      listen(server);
    });
    server.on("error", (e) => this.config.log(`${kind} listener error: ${e.message}`));
    this.servers.push(server);
    return server;
  }

  private async listenUnix(path: string): Promise<ListenInfo> {
    await removeStaleSocket(path);
    try {
      // The socket file must never exist with wider permissions than 0600,
      // not even for an instant: bind under a umask that clears them. Node
      // binds a path synchronously inside listen(), so the umask is restored
      // right after (the stat below checks it, and chmod fixes a surprise).
      await this.startServer("unix", (s) => {
        const old = process.umask(0o177);
        try {
          s.listen(path);
        } finally {
          process.umask(old);
        }
      });
    } catch (e) {
      throw ioError(`cannot listen on unix:${path}`, e);
    }
    const st = statSync(path);
    if ((st.mode & 0o777) !== 0o600) chmodSync(path, 0o600);
    this.unixFiles.push({ path, ino: st.ino, dev: st.dev });
    return { endpoint: { kind: "unix", path }, mode: statSync(path).mode & 0o777 };
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
      server = await this.startServer("tcp", (s) => s.listen({ host, port }));
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
        this.config.log(`line ${where}: closed; reopening`);
        schedule();
      });
    };
    const schedule = () => {
      timer = setTimeout(() => {
        open().then(start, (e: unknown) => {
          if (stopped || this.closed) return;
          delay = Math.min(delay * 2, 5000);
          this.config.log(`line ${where}: cannot ${isListen ? "open" : "connect"}: ${(e as Error).message}; retrying in ${delay} ms`);
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
    this.removeUnixFiles();
    await Promise.all(closing);
    clearTimeout(force);
  }

  private removeUnixFiles(): void {
    for (const f of this.unixFiles.splice(0)) {
      try {
        const st = lstatSync(f.path);
        // Only remove the socket this agent created, not one that replaced it.
        if (st.isSocket() && st.ino === f.ino && st.dev === f.dev) unlinkSync(f.path);
      } catch {
        // already gone
      }
    }
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

/**
 * A socket file left by an agent that died is removed; a live one (someone
 * accepts connections) or a file that is not a socket is an error.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ClocksourceError("IO_ERROR", `cannot listen on unix:${path}: the path exists and is not a socket`);
  try {
    const s = await connectSocket({ path }, 500);
    s.destroy();
    throw new ClocksourceError("IO_ERROR", `cannot listen on unix:${path}: another process is serving it`);
  } catch (e) {
    if (e instanceof ClocksourceError) throw e;
    if (e instanceof OpenError && e.code !== "ECONNREFUSED") throw new ClocksourceError("IO_ERROR", `cannot listen on unix:${path}: ${e.message}`);
    unlinkSync(path);
  }
}
