// Our own tracefs instances, for the tests (through tracefs-instances.d.mts) and the benches
// alike: extracting them with trace-cmd without disturbing the machine, and removing them.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TRACEFS = "/sys/kernel/tracing";

/**
 * `trace-cmd extract` of our own tracefs instances into `out`, in a private
 * mount namespace where trace-cmd sees what it should: the first instance's
 * trace_clock as the top level's (trace-cmd 3.1 names the top level's clock
 * for every buffer), and empty top-level per-CPU buffers (it would otherwise
 * drain the machine's global buffer, which other users may be reading).
 * `scratch` is a directory for the stand-in files; `extraMounts` are more
 * `mount --bind` commands for the same namespace.
 */
export function extractInstances(names, out, scratch, extraMounts = []) {
  const mounts = [...extraMounts, `mount --bind '${join(TRACEFS, "instances", names[0])}/trace_clock' '${TRACEFS}/trace_clock'`];
  const perCpu = join(scratch, "per_cpu");
  for (const cpu of readdirSync(join(TRACEFS, "per_cpu"))) {
    mkdirSync(join(perCpu, cpu), { recursive: true });
    writeFileSync(join(perCpu, cpu, "trace_pipe_raw"), "");
    writeFileSync(join(perCpu, cpu, "stats"), readFileSync(join(TRACEFS, "per_cpu", cpu, "stats")));
  }
  mounts.push(`mount --bind '${perCpu}' '${TRACEFS}/per_cpu'`);
  const extract = ["trace-cmd extract", ...names.map((n) => `-B '${n}'`), `-o '${out}'`].join(" ");
  const r = spawnSync("unshare", ["-m", "sh", "-c", `${mounts.join(" && ")} && ${extract}`], { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new Error(`trace-cmd extract failed (${r.error?.message ?? `exit ${r.status} ${r.signal ?? ""}`}): ${(r.stderr ?? "").slice(0, 2000)}`);
}

/**
 * Stops and removes an instance (`dir` under instances/). One that is gone
 * already is fine; one that cannot be removed is an error, never left behind
 * in silence.
 */
export function removeInstance(dir) {
  if (!existsSync(dir)) return;
  try {
    writeFileSync(join(dir, "tracing_on"), "0");
  } catch {
    // removing it stops it too
  }
  try {
    rmdirSync(dir);
  } catch (e) {
    if (e?.code !== "ENOENT") throw new Error(`could not remove the tracefs instance ${dir}: ${e?.message ?? e}`);
  }
}
