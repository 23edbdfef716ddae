#!/usr/bin/env node
import { main } from "../dist/main.js";

// Output that cannot be written ends the command with one line, never a trace:
// a closed pipe (`clocksource probe | head`) quietly, anything else as a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    if (stream !== process.stderr) process.stderr.write(`clocksource: cannot write output: ${e.code ?? e.message}\n`);
    process.exit(1);
  });
}
// stdin only when a command reads it: creating the stream costs start-up time and makes a pipe non-blocking.
const io = {
  stdout: process.stdout,
  stderr: process.stderr,
  get stdin() {
    return process.stdin;
  },
  stdinFd: 0,
  env: process.env,
};
const code = await main(process.argv.slice(2), io);
process.exitCode = code;
