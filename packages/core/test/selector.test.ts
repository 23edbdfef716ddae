import "reflect-metadata";
import { injectable } from "tsyringe";
import { describe, expect, it } from "vitest";
import { scratchDirs } from "../../../test/support/hostile-tree.js";
import {
  CLOCK_BACKEND,
  ClockSelector,
  ClocksourceError,
  createClockContainer,
  DirectorySystemView,
  RATING,
  type BackendContext,
  type BackendVerdict,
  type ClockBackend,
  type ClockSource,
  type MappingKind,
} from "../src/index.js";

const tempDir = scratchDirs();
const emptyRoot = () => tempDir("cs-root-");

class FakeBackend implements ClockBackend {
  created = 0;
  constructor(
    readonly id: string,
    private readonly verdict: Partial<BackendVerdict> & { usable: boolean; rating: number },
    private readonly createFails = false,
  ) {}
  get description() {
    return `fake ${this.id}`;
  }
  assess(): BackendVerdict {
    return { reasons: [`${this.id} reason`], mapping: "none" as MappingKind, ...this.verdict };
  }
  create(): ClockSource {
    if (this.createFails) throw new Error(`${this.id} counter unreadable`);
    this.created++;
    let t = 0n;
    return { id: this.id, domain: { name: "test", frequencyHz: 1e9, widthBits: 64 }, frequencyHz: 1e9, widthBits: 64, now: () => ++t, toNanoseconds: (x) => x };
  }
}

function containerWith(backends: ClockBackend[], policy = {}) {
  const c = createClockContainer({ view: new DirectorySystemView(emptyRoot(), false), env: {}, policy });
  for (const b of backends) c.register(CLOCK_BACKEND, { useValue: b });
  return c;
}

describe("ClockSelector", () => {
  it("picks the highest rating and keeps unusable backends with their reasons", () => {
    const c = containerWith([
      new FakeBackend("exact", { usable: false, rating: 0, reasons: ["counter not invariant"], mapping: "exact" }),
      new FakeBackend("good", { usable: true, rating: 300 }),
      new FakeBackend("ok", { usable: true, rating: 200 }),
    ]);
    const r = c.resolve(ClockSelector).rank();
    expect(r.selected?.id).toBe("good");
    expect(r.backends.map((b) => b.id)).toEqual(["good", "ok", "os-monotonic", "exact"]);
    const exact = r.backends.find((b) => b.id === "exact");
    expect(exact?.usable).toBe(false);
    expect(exact?.reasons).toContain("counter not invariant");
    expect(r.explanation[0]).toMatch(/good selected: highest rating/);
  });

  it("breaks rating ties by registration order and says so", () => {
    const c = containerWith([new FakeBackend("first", { usable: true, rating: 250 }), new FakeBackend("second", { usable: true, rating: 250 })]);
    const r = c.resolve(ClockSelector).rank();
    expect(r.selected?.id).toBe("first");
    expect(r.explanation[0]).toMatch(/tied with second/);
  });

  it("falls back to the OS monotonic clock when nothing else is usable", () => {
    const c = containerWith([new FakeBackend("broken", { usable: false, rating: 0 })]);
    const s = c.resolve(ClockSelector).select();
    expect(s.selected.id).toBe("os-monotonic");
    const a = s.source.now();
    const b = s.source.now();
    expect(b >= a).toBe(true);
    expect(s.source.domain.name).toMatch(/monotonic$/);
  });

  it("honours prefer, exclude and requireExactMapping", () => {
    const backends = () => [new FakeBackend("hw", { usable: true, rating: 400, mapping: "exact" }), new FakeBackend("pv", { usable: true, rating: 200, mapping: "estimated" })];
    expect(containerWith(backends(), { prefer: ["pv"] }).resolve(ClockSelector).rank().selected?.id).toBe("pv");
    const ex = containerWith(backends(), { exclude: ["hw"] }).resolve(ClockSelector).rank();
    expect(ex.selected?.id).toBe("pv");
    expect(ex.backends.find((b) => b.id === "hw")?.reasons).toContain("excluded by policy");
    const exact = containerWith(backends(), { requireExactMapping: true, prefer: ["pv"] }).resolve(ClockSelector).rank();
    expect(exact.selected?.id).toBe("hw");
    expect(exact.explanation.join("\n")).toMatch(/preferred backend pv not chosen/);
    const none = containerWith([new FakeBackend("pv", { usable: true, rating: 200, mapping: "estimated" })], { requireExactMapping: true }).resolve(ClockSelector);
    expect(none.rank().selected).toBeNull();
    expect(() => none.select()).toThrow(ClocksourceError);
  });

  it("reads the policy from CLOCKSOURCE_* environment variables", () => {
    const c = createClockContainer({ view: new DirectorySystemView(emptyRoot(), false), env: { CLOCKSOURCE_BACKEND: "pv", CLOCKSOURCE_EXCLUDE: "os-monotonic" } });
    c.register(CLOCK_BACKEND, { useValue: new FakeBackend("pv", { usable: true, rating: 200 }) });
    c.register(CLOCK_BACKEND, { useValue: new FakeBackend("hw", { usable: true, rating: 400 }) });
    const r = c.resolve(ClockSelector).rank();
    expect(r.selected?.id).toBe("pv");
    expect(r.backends.find((b) => b.id === "os-monotonic")?.eligible).toBe(false);
    expect(() => createClockContainer({ view: new DirectorySystemView(emptyRoot(), false), env: { CLOCKSOURCE_REQUIRE_EXACT: "maybe" } })).toThrow(/CLOCKSOURCE_REQUIRE_EXACT/);
  });

  it("rejects a policy naming an unknown backend with the registered ids", () => {
    const c = containerWith([], { prefer: ["nope"] });
    expect(() => c.resolve(ClockSelector).rank()).toThrow(/unknown backend "nope" \(registered: os-monotonic\)/);
  });

  it("moves on when the selected backend cannot create its clock source", () => {
    const c = containerWith([new FakeBackend("flaky", { usable: true, rating: 400 }, true), new FakeBackend("steady", { usable: true, rating: 300 })]);
    const s = c.resolve(ClockSelector).select();
    expect(s.selected.id).toBe("steady");
    expect(s.explanation.join("\n")).toMatch(/flaky could not create its clock source: flaky counter unreadable/);
  });

  it("reports a backend whose assessment throws as unusable, and a duplicate id", () => {
    const thrower: ClockBackend = { id: "thrower", description: "x", assess: () => { throw new Error("boom"); }, create: () => { throw new Error("never"); } };
    const c = containerWith([thrower, new FakeBackend("os-monotonic", { usable: true, rating: 999 })]);
    const r = c.resolve(ClockSelector).rank();
    expect(r.backends.find((b) => b.id === "thrower")?.reasons).toEqual(["assessment failed: boom"]);
    expect(r.selected?.id).toBe("os-monotonic");
    expect(r.selected?.rating).toBe(RATING.osMonotonic);
    expect(r.backends.filter((b) => b.id === "os-monotonic")[1]?.reasons[0]).toMatch(/already registered/);
  });

  it("injects a user's class-based backend by type through the container", () => {
    @injectable()
    class Calibration {
      readonly hz = 123_456_789;
    }
    @injectable()
    class MyBackend implements ClockBackend {
      readonly id = "my-backend";
      readonly description = "a user's backend";
      constructor(readonly calibration: Calibration) {}
      assess(ctx: BackendContext): BackendVerdict {
        return { usable: ctx.facts.all().length >= 0, rating: 150, reasons: [`calibrated at ${this.calibration.hz} Hz`], mapping: "none" };
      }
      create(): ClockSource {
        return new FakeBackend(this.id, { usable: true, rating: 150 }).create();
      }
    }
    const c = createClockContainer({ view: new DirectorySystemView(emptyRoot(), false), env: {} });
    c.register(CLOCK_BACKEND, { useClass: MyBackend });
    const s = c.resolve(ClockSelector).select();
    expect(s.selected.id).toBe("my-backend");
    expect(s.selected.reasons).toEqual(["calibrated at 123456789 Hz"]);
  });

  it("keeps containers independent of each other and of the global container", () => {
    const a = containerWith([new FakeBackend("only-in-a", { usable: true, rating: 300 })]);
    const b = containerWith([]);
    expect(a.resolve(ClockSelector).backendIds()).toContain("only-in-a");
    expect(b.resolve(ClockSelector).backendIds()).toEqual(["os-monotonic"]);
  });
});
