import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/fixtures.js";

// One source: the command line's help texts. docs/cli.md and the man page are
// generated from them; regenerate both with `node scripts/gen-cli-docs.mjs`.
describe("generated command-line documents", async () => {
  const { GENERATED } = (await import(join(REPO_ROOT, "scripts/cli-docs.mjs"))) as { GENERATED: Record<string, () => Promise<string>> };

  it("lists docs/cli.md and the man page", () => {
    expect(Object.keys(GENERATED).sort()).toEqual(["docs/cli.md", "packages/cli/man/clocksource.1"]);
  });

  for (const [file, render] of Object.entries(GENERATED)) {
    it(`${file} is the command line's own help (regenerate with node scripts/gen-cli-docs.mjs)`, async () => {
      expect(readFileSync(join(REPO_ROOT, file), "utf8")).toBe(await render());
    });
  }

  it("the man page is installed with the CLI package and covers every command", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "packages/cli/package.json"), "utf8")) as { man: string[]; files: string[] };
    expect(pkg.man).toEqual(["./man/clocksource.1"]);
    expect(pkg.files).toContain("man");
    const page = readFileSync(join(REPO_ROOT, "packages/cli/man/clocksource.1"), "utf8");
    const md = readFileSync(join(REPO_ROOT, "docs/cli.md"), "utf8");
    const commands = [...md.matchAll(/^## `clocksource (\S+)`$/gm)].map((m) => m[1] as string);
    expect(commands).toContain("probe");
    expect(commands).toContain("completion");
    for (const c of commands) expect(page).toContain(`.SH "CLOCKSOURCE ${c.toUpperCase().replace(/-/g, "\\-")}"`);
    expect(page).toMatch(/^\.SH "EXIT STATUS"$/m);
    expect(page).toMatch(/^\.B CLOCKSOURCE_PLUGINS$/m);
  });

  it("every command's help has an Examples and an Environment section", async () => {
    const { commandHelps } = (await import(join(REPO_ROOT, "packages/cli/dist/main.js"))) as { commandHelps(): Promise<{ name: string; help: string }[]> };
    const { parseHelp } = (await import(join(REPO_ROOT, "packages/cli/dist/help-text.js"))) as { parseHelp(t: string): { sections: { title: string; lines: string[] }[]; options: unknown[] } };
    const helps = await commandHelps();
    expect(helps.length).toBeGreaterThan(8);
    for (const { name, help } of helps) {
      const titles = parseHelp(help).sections.map((s) => s.title);
      expect(titles, name).toContain("Examples");
      expect(titles, name).toContain("Environment");
      expect(parseHelp(help).options.length, name).toBeGreaterThan(0);
    }
  });

  it("help never points at a repository path users of the installed package do not have", async () => {
    const md = readFileSync(join(REPO_ROOT, "docs/cli.md"), "utf8");
    expect(md.split("\n```\n")[1] ?? "").not.toMatch(/docs\/cli\.md/);
  });
});
