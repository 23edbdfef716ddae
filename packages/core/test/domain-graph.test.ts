import { describe, expect, it } from "vitest";
import { DomainGraph, type DomainEdge, type EdgeConverter } from "../src/index.js";

const identity: EdgeConverter = {
  convert(input, output, status, n = input.length) {
    for (let i = 0; i < n; i++) {
      output[i] = input[i] as bigint;
      status[i] = 0;
    }
    return { outside: 0, ambiguous: 0 };
  },
  extrapolate: (v) => v,
};

function edge(from: string, to: string, exact: boolean, boundNs: bigint | null, source = `${from}→${to}`): DomainEdge {
  return { from, to, exact, boundNs, source, perCpu: false, epochs: 1, converter: () => identity };
}

describe("DomainGraph", () => {
  it("prefers an exact path, then the smallest known bound, then fewer hops; unknown bounds last", () => {
    const g = new DomainGraph();
    g.addEdge(edge("vm1.monotonic", "host.monotonic", false, 5_000n, "paravirt"));
    g.addEdge(edge("vm1.tsc", "host.tsc", true, 0n, "kvm"));
    g.addEdge(edge("vm1.monotonic", "vm1.tsc", false, 200n, "pairs"));
    g.addEdge(edge("host.tsc", "host.monotonic", false, 300n, "host pairs"));
    g.addEdge(edge("vm1.monotonic", "host.monotonic", false, null, "ptp"));
    // 200 + 0 + 300 = 500 ns beats the direct 5 µs estimate.
    const p = g.requirePath("vm1.monotonic", "host.monotonic");
    expect(p.edges.map((e) => e.source)).toEqual(["pairs", "kvm", "host pairs"]);
    expect(p.exact).toBe(false);
    expect(p.boundNs).toBe(500n);
    const q = g.requirePath("vm1.tsc", "host.tsc");
    expect(q.exact).toBe(true);
    expect(q.boundNs).toBe(0n);
    expect(g.path("host.tsc", "host.tsc")?.edges).toEqual([]);
  });

  it("reports unknown bounds as null and only uses them when nothing else reaches", () => {
    const g = new DomainGraph();
    g.addEdge(edge("a.x", "b.x", false, null, "unknown"));
    expect(g.requirePath("a.x", "b.x").boundNs).toBeNull();
    g.addEdge(edge("a.x", "c.x", false, 10n));
    g.addEdge(edge("c.x", "b.x", false, 10n));
    expect(g.requirePath("a.x", "b.x").boundNs).toBe(20n);
  });

  it("says what a domain reaches when the target is out of reach", () => {
    const g = new DomainGraph();
    g.addEdge(edge("vm1.tsc", "vm1.local", true, 0n));
    g.addDomain("host.tsc");
    expect(() => g.requirePath("vm1.tsc", "host.tsc")).toThrow(/no mapping leads from vm1\.tsc to host\.tsc \(vm1\.tsc reaches vm1\.local\)/);
    expect(() => g.requirePath("nowhere.tsc", "host.tsc")).toThrow(/unknown clock domain nowhere\.tsc/);
    expect(() => g.addEdge(edge("a.x", "a.x", true, 0n))).toThrow(/to itself/);
  });
});
