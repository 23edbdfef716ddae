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
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
process.exitCode = code;
