import { constants as fsConstants, promises as fsp, type Stats } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { describeErrno } from "@clocksource/core";
import { MAX_UNIX_PATH_BYTES, type Endpoint } from "./endpoint.js";

/** A byte stream to the peer, and what kind it is. */
export interface OpenedStream {
  readonly stream: Duplex;
  /**
   * `socket`: one connection is one session, closed on a protocol error.
   * `line`: a long-lived byte stream (a serial port, a VMM chardev socket)
   * shared by successive sessions, which resynchronises instead.
   */
  readonly mode: "socket" | "line";
  /** A Node socket when the stream is one (for `setNoDelay`, addresses). */
  readonly socket?: Socket;
}

/** A failure to open a stream, with the errno code when there was one. */
export class OpenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "OpenError";
  }
}

/** Socket-specific wording for the errors a connect or open meets; core's wording otherwise. */
function describeOpenError(e: unknown): { code: string | undefined; text: string } {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  const text =
    code === "ENOENT" ? "no such file or socket"
    : code === "ECONNREFUSED" ? "connection refused"
    : code === "EACCES" || code === "EPERM" ? "permission denied"
    : code === "ENOTSOCK" ? "not a socket"
    : code === "EHOSTUNREACH" || code === "ENETUNREACH" ? "host unreachable"
    : code === "ENOTFOUND" || code === "EAI_AGAIN" ? "host name not found"
    : code === "EBUSY" ? "device busy"
    : describeErrno(e);
  return { code, text };
}

/** Connects a socket (Unix path or TCP), failing after `timeoutMs` or when `signal` aborts. */
export function connectSocket(target: { path: string } | { host: string; port: number }, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OpenError("aborted", "ABORT_ERR"));
      return;
    }
    if ("path" in target && Buffer.byteLength(target.path) > MAX_UNIX_PATH_BYTES) {
      // The kernel interface would cut the path and connect to another file.
      reject(new OpenError(`the socket path is ${Buffer.byteLength(target.path)} bytes, more than the ${MAX_UNIX_PATH_BYTES} a Unix socket path holds`, "ENAMETOOLONG"));
      return;
    }
    const socket = netConnect(target as never);
    const onAbort = () => {
      clearTimeout(timer);
      socket.destroy();
      reject(new OpenError("aborted", "ABORT_ERR"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(new OpenError(`no connection within ${timeoutMs} ms`, "ETIMEDOUT"));
    }, timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if ("port" in target) socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const d = describeOpenError(e);
      reject(new OpenError(d.text, d.code));
    });
  });
}

/**
 * Opens a character device (or FIFO) read-write as one duplex stream. Reads
 * go through the thread pool, which is what a virtio-serial port in the guest
 * (`/dev/virtio-ports/NAME`) needs: it is neither a socket nor a TTY. What was
 * opened is checked before a byte is read or written: a regular file or a
 * directory named by mistake (`serial:/etc/passwd`) is refused, never written to.
 * @throws OpenError
 */
export async function openDevice(path: string): Promise<Duplex> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
  } catch (e) {
    const d = describeOpenError(e);
    throw new OpenError(`cannot open ${path}: ${d.text}`, d.code);
  }
  let st: Stats;
  try {
    st = await handle.stat();
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw new OpenError(`cannot open ${path}: ${describeOpenError(e).text}`, (e as NodeJS.ErrnoException).code);
  }
  if (!st.isCharacterDevice() && !st.isFIFO()) {
    await handle.close().catch(() => undefined);
    throw new OpenError(`${path} is neither a character device nor a socket; a serial line must be one (refusing to read or write it)`, "EINVAL");
  }
  const readable = handle.createReadStream({ autoClose: false, highWaterMark: 64 * 1024 });
  const writable = handle.createWriteStream({ autoClose: false });
  const duplex = Duplex.from({ readable, writable });
  let closed = false;
  const closeHandle = () => {
    if (closed) return;
    closed = true;
    void handle.close().catch(() => undefined);
  };
  duplex.once("close", closeHandle);
  duplex.once("error", closeHandle);
  return duplex;
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await fsp.stat(path);
  } catch {
    return null;
  }
}

/**
 * Opens a client stream to an endpoint. `serial:PATH` is a Unix socket (a VMM
 * chardev) when PATH is one, else a device opened read-write.
 * @throws OpenError
 */
export async function openStream(endpoint: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<OpenedStream> {
  switch (endpoint.kind) {
    case "unix": {
      const socket = await connectSocket({ path: endpoint.path }, timeoutMs, signal);
      return { stream: socket, mode: "socket", socket };
    }
    case "tcp": {
      const socket = await connectSocket({ host: endpoint.host, port: endpoint.port }, timeoutMs, signal);
      return { stream: socket, mode: "socket", socket };
    }
    case "serial": {
      const st = await statOrNull(endpoint.path);
      if (st?.isSocket()) {
        const socket = await connectSocket({ path: endpoint.path }, timeoutMs, signal);
        return { stream: socket, mode: "line", socket };
      }
      if (st && !st.isCharacterDevice() && !st.isFIFO()) throw new OpenError(`${endpoint.path} is neither a character device nor a socket`, "EINVAL");
      return { stream: await openDevice(endpoint.path), mode: "line" };
    }
  }
}
