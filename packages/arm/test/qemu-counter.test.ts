/**
 * The arm64 counter read, checked on this (non-arm64) machine under qemu-user
 * emulation: a small C program with the same `isb; mrs cntvct_el0` sequence
 * as the native addon is cross-compiled with Debian's aarch64 toolchain
 * (`gcc-aarch64-linux-gnu`, `libc6-dev-arm64-cross`) and run with
 * `qemu-aarch64` (package `qemu-user`). Skipped, with the reason, where those
 * tools are not installed (docs/arm.md says how to get them).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { kernelCounterWidth } from "../src/index.js";
import { tempRoot } from "./support/trees.js";

const SOURCE = fileURLToPath(new URL("./qemu/cntvct-check.c", import.meta.url));

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

const CC = "aarch64-linux-gnu-gcc";
const QEMU = onPath("qemu-aarch64") ? "qemu-aarch64" : "qemu-aarch64-static";
const HAVE_TOOLS = process.arch !== "arm64" && onPath(CC) && onPath(QEMU);
if (!HAVE_TOOLS && process.arch !== "arm64") {
  console.warn(`skipping the qemu-user counter check: needs ${CC} and qemu-aarch64 (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)`);
}

describe.skipIf(!HAVE_TOOLS)("CNTVCT_EL0 read under qemu-user (aarch64 emulation)", () => {
  it("cross-compiles, reads a monotonic counter and CNTFRQ, and the counter advances over a sleep", () => {
    const exe = join(tempRoot("cs-arm-qemu-"), "cntvct-check");
    const cc = spawnSync(CC, ["-O2", "-static", "-o", exe, SOURCE], { encoding: "utf8" });
    expect(cc.stderr).toBe("");
    expect(cc.status).toBe(0);
    const run = spawnSync(QEMU, [exe], { encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = Object.fromEntries(run.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]).map(([k, v]) => [k, BigInt(v)]));
    expect(out.cntfrq).toBeGreaterThan(0n);
    expect(out.backwards).toBe(0n);
    expect(out.last).toBeGreaterThanOrEqual(out.first as bigint);
    // nanosleep sleeps at least 20 ms, so at least (nearly, allowing one tick of granularity) 20 ms of ticks pass.
    expect(out.slept_ticks).toBeGreaterThanOrEqual(((out.cntfrq as bigint) * 20n) / 1000n - 1n);
    // What the driver would assume for QEMU's counter: 62.5 MHz → 57 bits.
    if (out.cntfrq === 62_500_000n) expect(kernelCounterWidth(out.cntfrq)).toBe(57);
  });
});
