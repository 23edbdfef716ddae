#!/usr/bin/env node
"use strict";
// The command line, as bundled by scripts/bundle-cli.mjs: one file per command, so that
// start-up reads only the code of the command that runs (`--version` nearly nothing).
const { existsSync } = require("node:fs");
const { join } = require("node:path");

// Output that cannot be written ends the command with one line, never a trace:
// a closed pipe (`clocksource probe | head`) quietly, anything else as a failure.
function guard(stream, name) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    if (name !== "stderr") process.stderr.write(`clocksource: cannot write output: ${e.code ?? e.message}\n`);
    process.exit(1);
  });
  return stream;
}
// Node makes process.stdout and process.stderr when they are first used, and making one costs
// milliseconds (a pipe's brings the network stack): a run that writes no error never makes stderr.
// So the guard goes on when a stream is made, by whoever asks for it first (a command, Node's own
// warnings), through process's own getter. (A stream made before this file runs, by a preloaded
// module, gets its guard when the command line first asks for it; `console` alone would not ask.)
for (const name of ["stdout", "stderr"]) {
  const own = Object.getOwnPropertyDescriptor(process, name);
  if (!own || typeof own.get !== "function" || !own.configurable) {
    guard(process[name], name);
    continue;
  }
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: own.enumerable,
    get() {
      const stream = guard(own.get.call(process), name);
      Object.defineProperty(process, name, { configurable: true, enumerable: own.enumerable, writable: false, value: stream });
      return stream;
    },
  });
}
// stdin only when a command reads it: creating the stream costs start-up time and makes a pipe non-blocking.
const io = {
  get stdout() {
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
  get stdin() {
    return process.stdin;
  },
  stdinFd: 0,
  stdoutFd: 1,
  env: process.env,
  // Plugins are imported from here, a module Node loaded itself (see bundle-loader.cjs).
  importModule: (url) => import(url),
};

const argv = process.argv.slice(2);
const first = argv[0] ?? "";
const dir = join(__dirname, "..", "bundle");
let file = "main.cjs";
if (first === "-V" || first === "--version") file = "version.cjs";
else if (/^[a-z][a-z0-9-]*$/.test(first) && existsSync(join(dir, `cmd-${first}.cjs`))) file = `cmd-${first}.cjs`;

let entry;
try {
  // Commands whose start-up counts have V8's code cache beside them (see bundle-loader.cjs).
  entry = existsSync(join(dir, `${file}.v8cache`)) ? require("./bundle-loader.cjs").loadBundle(join(dir, file)) : require(join(dir, file));
} catch (e) {
  if (e && e.code === "MODULE_NOT_FOUND" && !existsSync(join(dir, file))) {
    process.stderr.write(`clocksource: the command line is not built (${join(dir, file)} is missing): run npm run build\n`);
    process.exit(1);
  }
  throw e;
}
entry.main(argv, io).then((code) => {
  process.exitCode = code;
});
