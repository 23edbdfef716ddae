import { isIPv6 } from "node:net";

interface Entry {
  readonly source: string;
  readonly at: number;
  spoke: boolean;
}

interface Source {
  /** Connections that have not sent a valid HELLO yet, oldest first. */
  readonly silent: Set<unknown>;
  /** Connections that sent HELLO and owe the token's proof, oldest first. */
  readonly spoke: Set<unknown>;
}

/** The limits of a {@link HandshakePool}. */
export interface HandshakePoolLimits {
  /** Above this many, connections past their grace are shed. */
  readonly soft: number;
  /** Above this many, connections are shed whatever their age (memory stays bounded). */
  readonly hard: number;
  /** A connection younger than this is not shed below the hard limit: time to say HELLO. */
  readonly graceMs: number;
}

/**
 * The connections still in their handshake, grouped by where they come from,
 * so that the agent can shed them fairly when there are too many:
 * - only from the source holding the most (a flood from one address never
 *   pushes out a guest from another);
 * - within it, a connection that has said nothing before one that sent HELLO,
 *   and the oldest first;
 * - never one younger than the grace period, unless the hard limit is passed.
 * A new connection therefore always gets in, and gets time to authenticate;
 * sessions that completed their handshake are not in this pool at all, so
 * nothing here can take their place.
 */
export class HandshakePool<T> {
  private readonly entries = new Map<T, Entry>();
  private readonly sources = new Map<string, Source>();

  constructor(readonly limits: HandshakePoolLimits) {}

  get size(): number {
    return this.entries.size;
  }

  /** Connections per source now (for logs and tests). */
  countsBySource(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, s] of this.sources) out.set(k, s.silent.size + s.spoke.size);
    return out;
  }

  has(item: T): boolean {
    return this.entries.has(item);
  }

  add(item: T, source: string, now: number): void {
    if (this.entries.has(item)) return;
    this.entries.set(item, { source, at: now, spoke: false });
    let s = this.sources.get(source);
    if (!s) {
      s = { silent: new Set(), spoke: new Set() };
      this.sources.set(source, s);
    }
    s.silent.add(item);
  }

  /** The connection sent a valid HELLO: it is shed after every silent one of its source. */
  markSpoke(item: T): void {
    const e = this.entries.get(item);
    if (!e || e.spoke) return;
    e.spoke = true;
    const s = this.sources.get(e.source) as Source;
    s.silent.delete(item);
    s.spoke.add(item);
  }

  delete(item: T): boolean {
    const e = this.entries.get(item);
    if (!e) return false;
    this.entries.delete(item);
    const s = this.sources.get(e.source) as Source;
    s.silent.delete(item);
    s.spoke.delete(item);
    if (s.silent.size + s.spoke.size === 0) this.sources.delete(e.source);
    return true;
  }

  /**
   * The next connection to shed, or null when the pool is within its soft
   * limit or nothing may be shed yet. The caller removes it ({@link delete}).
   */
  nextVictim(now: number): T | null {
    if (this.entries.size <= this.limits.soft) return null;
    const force = this.entries.size > this.limits.hard;
    let most = 0;
    for (const s of this.sources.values()) most = Math.max(most, s.silent.size + s.spoke.size);
    let best: T | null = null;
    let bestRank = Infinity;
    for (const s of this.sources.values()) {
      if (s.silent.size + s.spoke.size !== most) continue;
      for (const [set, rank] of [[s.silent, 0], [s.spoke, 1]] as const) {
        const first = set.values().next();
        if (first.done) continue;
        const item = first.value as T;
        const e = this.entries.get(item) as Entry;
        if (!force && now - e.at < this.limits.graceMs) continue;
        // Lower progress first; at equal progress the older one.
        const r = rank * 1e15 + e.at;
        if (r < bestRank) {
          bestRank = r;
          best = item;
        }
        break;
      }
    }
    return best;
  }
}

/**
 * Where a connection comes from, for fairness: the IPv4 address, the /64 of
 * an IPv6 address (one host easily holds a whole /64), or the listener for a
 * Unix socket (its peers cannot be told apart without credentials).
 */
export function sourceOf(remoteAddress: string | undefined, listener: string): string {
  if (!remoteAddress) return listener;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(remoteAddress)) return remoteAddress;
  return `${ipv6Prefix64(remoteAddress)}::/64`;
}

/** The first four groups of an IPv6 address, expanded (`2001:db8:0:1`). */
function ipv6Prefix64(addr: string): string {
  const bare = addr.split("%")[0] as string;
  const [head = "", tail] = bare.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail counts as two groups.
  const groups = (xs: string[]) => xs.reduce((n, x) => n + (x.includes(".") ? 2 : 1), 0);
  const full = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - groups(h) - groups(t))).fill("0"), ...t];
  return full
    .slice(0, 4)
    .map((g) => (g.includes(".") ? g : (Number.parseInt(g, 16) || 0).toString(16)))
    .join(":");
}
