#!/usr/bin/env node
// Writes docs/cli.md and the man page from the built command line's own help
// texts, so neither can drift from the program (test/cli-docs.test.ts checks them).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATED } from "./cli-docs.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
for (const [file, render] of Object.entries(GENERATED)) {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), await render());
  console.log(`wrote ${file}`);
}
