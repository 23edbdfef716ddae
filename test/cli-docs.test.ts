import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/fixtures.js";

describe("docs/cli.md", () => {
  it("is the command line's own help (regenerate with node scripts/gen-cli-docs.mjs)", async () => {
    const { renderCliDocs } = await import(join(REPO_ROOT, "scripts/cli-docs.mjs"));
    expect(readFileSync(join(REPO_ROOT, "docs/cli.md"), "utf8")).toBe(await renderCliDocs());
  });
});
