#!/usr/bin/env node
// Writes docs/cli.md from the built command line's own help texts, so the
// reference cannot drift from the program (test/cli-docs.test.ts checks it).
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderCliDocs } from "./cli-docs.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
writeFileSync(join(root, "docs/cli.md"), await renderCliDocs());
console.log("wrote docs/cli.md");
