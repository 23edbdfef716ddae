import type { BlockList } from "node:net";
import { ClocksourceError } from "@clocksource/core";

/**
 * Where the agent listens or the client connects:
 * - `unix:PATH` — a Unix-domain stream socket;
 * - `tcp:HOST:PORT` (`tcp:[::1]:7900` for IPv6; `tcp:PORT` means loopback);
 * - `serial:PATH` — a character device (a virtio-serial port in the guest,
 *   `/dev/virtio-ports/NAME`) or the Unix socket of a QEMU chardev, used as one
 *   long-lived byte stream.
 */
export type Endpoint =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "serial"; readonly path: string };

/** The loopback address a TCP endpoint without a host binds to. */
export const DEFAULT_TCP_HOST = "127.0.0.1";

function bad(text: string, why: string): ClocksourceError {
  return new ClocksourceError("INVALID_ARGUMENT", `bad endpoint ${JSON.stringify(text)}: ${why} (use unix:PATH, tcp:HOST:PORT or serial:PATH)`);
}

/**
 * The longest Unix socket path, in bytes: `sun_path` holds 108 bytes on
 * Linux, one of which is the terminating NUL. A longer path would be cut
 * short by the kernel interface and name another file.
 */
export const MAX_UNIX_PATH_BYTES = 107;

/**
 * Refuses a Unix socket path that does not fit in `sun_path`.
 * @throws ClocksourceError `INVALID_ARGUMENT`
 */
export function checkUnixPathLength(path: string, what = "unix"): void {
  const n = Buffer.byteLength(path);
  if (n > MAX_UNIX_PATH_BYTES) {
    throw new ClocksourceError(
      "INVALID_ARGUMENT",
      `${what}:${path.length > 60 ? `${path.slice(0, 28)}…${path.slice(-28)}` : path}: the path is ${n} bytes; a Unix socket path holds at most ${MAX_UNIX_PATH_BYTES} (use a shorter path, e.g. a relative one or a shorter directory)`,
    );
  }
}

function port(text: string, p: string): number {
  if (!/^[0-9]{1,5}$/.test(p) || Number(p) > 65535) throw bad(text, `port ${JSON.stringify(p)} is not 0..65535`);
  return Number(p);
}

/**
 * Parses an endpoint string.
 * @throws ClocksourceError `INVALID_ARGUMENT` naming what is wrong
 */
export function parseEndpoint(text: string): Endpoint {
  const t = text.trim();
  const colon = t.indexOf(":");
  if (colon <= 0) throw bad(text, "no scheme");
  const scheme = t.slice(0, colon);
  const rest = t.slice(colon + 1);
  switch (scheme) {
    case "unix":
    case "serial":
      if (rest.length === 0) throw bad(text, "empty path");
      if (rest.includes("\0")) throw bad(text, "NUL in path");
      if (scheme === "unix") checkUnixPathLength(rest);
      return { kind: scheme, path: rest };
    case "tcp": {
      if (/^[0-9]+$/.test(rest)) return { kind: "tcp", host: DEFAULT_TCP_HOST, port: port(text, rest) };
      const m6 = /^\[([0-9A-Fa-f:.]+)\]:([^:]+)$/.exec(rest);
      if (m6) {
        if (isIP(m6[1] as string) !== 6) throw bad(text, `${m6[1]} is not an IPv6 address`);
        return { kind: "tcp", host: m6[1] as string, port: port(text, m6[2] as string) };
      }
      const i = rest.lastIndexOf(":");
      if (i <= 0) throw bad(text, "expected tcp:HOST:PORT");
      const host = rest.slice(0, i);
      if (host.includes(":")) throw bad(text, "write an IPv6 host in brackets: tcp:[::1]:PORT");
      if (!/^[A-Za-z0-9.-]+$/.test(host)) throw bad(text, `bad host ${JSON.stringify(host)}`);
      return { kind: "tcp", host, port: port(text, rest.slice(i + 1)) };
    }
    case "vsock":
      throw bad(text, "vsock is not built in; bridge it with socat to a Unix socket (docs/paravirt.md)");
    default:
      throw bad(text, `unknown scheme ${JSON.stringify(scheme)}`);
  }
}

/** The endpoint as a string (`unix:/run/x.sock`, `tcp:[::1]:7900`). */
export function formatEndpoint(e: Endpoint): string {
  if (e.kind === "tcp") return `tcp:${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`;
  return `${e.kind}:${e.path}`;
}

/**
 * node:net when an address is first looked at: loading it costs several ms, and commands that
 * bundle this module without parsing an endpoint (`probe` with no agent) should not pay for it.
 */
const net = () => process.getBuiltinModule("node:net");
const isIP = (host: string) => net().isIP(host);

let loopback: BlockList | undefined;
function loopbackList(): BlockList {
  if (!loopback) {
    const { BlockList } = net();
    loopback = new BlockList();
    loopback.addSubnet("127.0.0.0", 8, "ipv4");
    loopback.addAddress("::1", "ipv6");
  }
  return loopback;
}

/**
 * True for literal addresses only this machine can reach: 127.0.0.0/8, ::1
 * (in any spelling) and IPv4-mapped 127.x. A host *name* is never trusted,
 * not even `localhost`: what it resolves to is up to the resolver
 * (/etc/hosts, DNS). Bind or connect through {@link literalTcpHost}, which
 * turns `localhost` into 127.0.0.1 before this check.
 */
export function isLoopbackHost(host: string): boolean {
  const family = isIP(host);
  if (family === 4) return loopbackList().check(host, "ipv4");
  if (family === 6) return loopbackList().check(host, "ipv6");
  return false;
}

/**
 * The host to bind or connect to: `localhost` becomes the literal 127.0.0.1,
 * so the address used is the one checked (never a name that resolves to
 * something else); every other host is returned unchanged.
 */
export function literalTcpHost(host: string): string {
  return host.toLowerCase() === "localhost" ? DEFAULT_TCP_HOST : host;
}
