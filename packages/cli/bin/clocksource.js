#!/usr/bin/env node
import { main } from "../dist/main.js";

process.stdout.on("error", (e) => {
  // A closed pipe (`clocksource probe | head`) is not an error worth a trace.
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
process.exitCode = code;
