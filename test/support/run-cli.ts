import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.js";

export const CLI_BIN = join(REPO_ROOT, "packages/cli/bin/clocksource.cjs");

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `clocksource` command as a user would: a subprocess. */
export function runCli(args: string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], {
    input: options.input ?? "",
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
