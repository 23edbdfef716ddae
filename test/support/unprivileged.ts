import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { CLI_BIN, type CliRun } from "./run-cli.js";

/** The user a root test drops to: `nobody` on Debian. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

/**
 * Why the CLI cannot be run as an unprivileged user from here, or null when it
 * can (root with `setpriv`). Tests skip with this message.
 */
export const UNPRIVILEGED_SKIP: string | null =
  process.getuid?.() !== 0
    ? "skipping the as-nobody run: the tests are not running as root (this run already is unprivileged)"
    : SETPRIV === undefined
      ? "skipping the as-nobody run: setpriv (util-linux) is not installed"
      : null;

/** Runs the built CLI as `nobody` with no supplementary groups (needs root and setpriv). */
export function runCliAsNobody(args: string[], options: { timeoutMs?: number } = {}): CliRun {
  if (UNPRIVILEGED_SKIP !== null || SETPRIV === undefined) throw new Error(UNPRIVILEGED_SKIP ?? "no setpriv");
  const r = spawnSync(SETPRIV, [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", process.execPath, CLI_BIN, ...args], {
    input: "",
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent" },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
