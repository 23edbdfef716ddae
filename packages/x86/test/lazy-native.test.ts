/**
 * The backend packages open the native addon at the first counter read, not
 * at import: CommonJS can require() them (no top-level await), and a program
 * that only parses files or probes a snapshot never maps the addon. Checked
 * in a subprocess on the built packages, through /proc/self/maps.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../test/support/fixtures.js";

const BUILT = ["core", "native", "x86", "arm"].every((p) => existsSync(join(REPO_ROOT, "packages", p, "dist/index.js")));
if (!BUILT) console.warn("skipping the lazy-native checks: build first (npm run build)");

const SCRIPT = `
const fs = require("node:fs");
const mapped = () => /clocksource.native[^/\\n]*\\.node/.test(fs.readFileSync("/proc/self/maps", "utf8"));
const core = require("@clocksource/core");
const x86 = require("@clocksource/x86");
const arm = require("@clocksource/arm");
const out = { imported: mapped() };
// With -e, the first argument after the script is argv[1].
const snap = core.createClockContainer({ sysroot: process.argv[1], env: {} });
x86.register(snap);
arm.register(snap);
snap.resolve(core.ClockSelector).rank();
out.snapshotProbed = mapped();
const reader = x86.nativeReader();
out.read = reader.ok ? "ok" : reader.reason;
out.afterRead = mapped();
console.log(JSON.stringify(out));
`;

describe.skipIf(!BUILT || !existsSync("/proc/self/maps"))("native loading is lazy", () => {
  it("require() works from CommonJS; importing, registering and probing a snapshot leave the addon unopened; the first read opens it", () => {
    const snapshot = join(REPO_ROOT, "packages/x86"); // any directory: a snapshot with nothing in it
    const r = spawnSync(process.execPath, ["-e", SCRIPT, snapshot], { cwd: REPO_ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { imported: boolean; snapshotProbed: boolean; read: string; afterRead: boolean };
    expect(out.imported).toBe(false);
    expect(out.snapshotProbed).toBe(false);
    expect(out.afterRead).toBe(out.read === "ok");
  });
});
