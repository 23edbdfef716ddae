#!/usr/bin/env node
/**
 * The install step of @clocksource/native. Linux x64 and arm64 use the
 * prebuilt addon shipped in `prebuilds/` and build nothing. Elsewhere (or when
 * the prebuild does not load) it builds from source with node-gyp. If neither
 * works it prints ONE line saying so, records the reason in
 * `install-notice.txt` (which the runtime reports as part of "native reader
 * unavailable: ..."), and exits 0: the package works without the addon, and a
 * failed optional install must not be silent.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const { closeSync, existsSync, openSync, rmSync, writeFileSync, writeSync } = require("node:fs");
const { join } = require("node:path");

const dir = join(__dirname, "..");
const noticeFile = join(dir, "install-notice.txt");
rmSync(noticeFile, { force: true });

function loads() {
  try {
    const path = require("node-gyp-build").resolve(dir);
    require(path);
    return null;
  } catch (e) {
    return String((e && e.message) || e).split("\n")[0];
  }
}

function nodeGypCommand() {
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && existsSync(bundled)) return [process.execPath, [bundled]];
  if (spawnSync("sh", ["-c", "command -v node-gyp"], { stdio: "ignore" }).status === 0) return ["node-gyp", []];
  return null;
}

/**
 * npm runs dependencies' install scripts in the background and shows their
 * output only when they fail; this one must not fail, so the line also goes
 * to the terminal itself when there is one.
 */
function notice(line) {
  process.stderr.write(line);
  if (process.stderr.isTTY) return;
  try {
    const fd = openSync("/dev/tty", "w");
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
  } catch {
    // No terminal (CI, a service): stderr and install-notice.txt carry it.
  }
}

function main() {
  if (process.env.CLOCKSOURCE_NATIVE === "0") return;
  const prebuilt = loads();
  if (prebuilt === null) return;
  const gyp = nodeGypCommand();
  let why;
  if (!gyp) {
    why = `no prebuilt addon for ${process.platform}-${process.arch} (${prebuilt}) and node-gyp is not available to build one`;
  } else {
    const [cmd, pre] = gyp;
    const r = spawnSync(cmd, [...pre, "rebuild"], { cwd: dir, encoding: "utf8", timeout: 300_000 });
    const out = `${r.stdout || ""}${r.stderr || ""}`;
    const firstError = out.split("\n").find((l) => /error|ERR!/i.test(l)) || (r.error && r.error.message) || `exit ${r.status}`;
    const built = r.status === 0 ? loads() : `node-gyp rebuild failed: ${firstError.trim()}`;
    if (built === null) return;
    why = `no prebuilt addon for ${process.platform}-${process.arch} and the source build failed (${built})`;
  }
  writeFileSync(noticeFile, `${why}\n`);
  notice(`@clocksource/native: counter reads will use the fallback (backends say "native reader unavailable"): ${why}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`@clocksource/native: install check failed, the addon may be unavailable: ${String((e && e.message) || e).split("\n")[0]}\n`);
}
