// The command line's reference documents, generated from one source — the
// program's own help texts (`clocksource --help`, `clocksource help <command>`):
// docs/cli.md for the repository and packages/cli/man/clocksource.1, the man
// page installed with the package. test/cli-docs.test.ts fails when either is stale.
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The generated files, relative to the repository root, and how each is made. */
export const GENERATED = {
  "docs/cli.md": () => renderCliDocs(),
  "packages/cli/man/clocksource.1": () => renderManPage(),
};

async function capture(args) {
  const { main } = await import(join(root, "packages/cli/dist/main.js"));
  const out = new PassThrough();
  let text = "";
  out.on("data", (c) => (text += c));
  await main(args, { stdout: out, stderr: new PassThrough(), stdin: new PassThrough(), env: {} });
  return text;
}

/** The top-level help and every command's, in the order `clocksource --help` lists them. */
async function helps() {
  const top = await capture(["--help"]);
  const names = [...top.matchAll(/^ {2}(\S+)\s{2,}(.*)$/gm)].filter((m) => /^Commands:$/m.test(top.slice(0, m.index)) && !/^Options:$/m.test(top.slice(0, m.index))).map((m) => ({ name: m[1], summary: m[2] }));
  const commands = [];
  for (const c of names) commands.push({ ...c, help: await capture(["help", c.name]) });
  return { top, commands };
}

/** The CLI reference in Markdown. */
export async function renderCliDocs() {
  const { top, commands } = await helps();
  let md = `# The command line: \`clocksource\`

Generated from the program's own help by \`node scripts/gen-cli-docs.mjs\` (which also writes the man
page, \`packages/cli/man/clocksource.1\`); a test fails when either is stale. u64 values are read in
decimal or \`0x\` hexadecimal and written in decimal, exactly.

\`\`\`
${top.trimEnd()}
\`\`\`
`;
  for (const c of commands) md += `\n## \`clocksource ${c.name}\`\n\n\`\`\`\n${c.help.trimEnd()}\n\`\`\`\n`;
  return md;
}

/** Escapes text for roff: backslashes, minus signs, and a line that would start with a control character. */
function roff(text) {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .split("\n")
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join("\n");
}

/** A section's "  TERM   description" lines as tagged paragraphs; null when they are not such a list. */
function entries(lines, splitEntry) {
  const out = [];
  for (const line of lines) {
    if (line.trim() === "") continue;
    const e = splitEntry(line);
    if (e) out.push({ term: e.term, text: [e.description].filter(Boolean) });
    else if (out.length) out[out.length - 1].text.push(line.trim());
    else return null;
  }
  return out;
}

function renderSection(title, lines, splitEntry) {
  const list = title === "Examples" ? null : entries(lines, splitEntry);
  let out = title ? `.TP 0\n.I ${roff(title)}\n` : ".PP\n";
  if (title === "" || !list) {
    // Prose, or examples: shown as written.
    out += `.RS 4\n.nf\n${roff(lines.map((l) => l.replace(/^ {2}/, "")).join("\n"))}\n.fi\n.RE\n`;
    return out;
  }
  out += ".RS 4\n";
  for (const e of list) out += `.TP\n.B ${roff(e.term)}\n${roff(e.text.join(" "))}\n`;
  return out + ".RE\n";
}

/** The man page clocksource(1). */
export async function renderManPage() {
  const { parseHelp, splitEntry } = await import(join(root, "packages/cli/dist/help-text.js"));
  const version = JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8")).version;
  const { top, commands } = await helps();
  const t = parseHelp(top);
  const section = (name) => t.sections.find((s) => s.title === name)?.lines ?? [];
  let out = `.\\" Generated from clocksource's help texts by scripts/gen-cli-docs.mjs; do not edit.
.TH CLOCKSOURCE 1 "" "clocksource ${version}" "User Commands"
.SH NAME
clocksource \\- ${roff((t.description[0] ?? "").replace(/\.$/, "").replace(/^./, (c) => c.toLowerCase()))}
.SH SYNOPSIS
.B clocksource
.I command
.RI [ options ]
.br
.B clocksource help
.I command
.SH DESCRIPTION
${roff(t.description.join("\n\n"))}
.PP
Each command is described below with its own options, examples and environment.
.SH COMMANDS
`;
  for (const c of commands) out += `.TP\n.B ${roff(c.name)}\n${roff(c.summary)}\n`;
  out += ".SH OPTIONS\n";
  for (const e of entries(section("Options"), splitEntry) ?? []) out += `.TP\n.B ${roff(e.term)}\n${roff(e.text.join(" "))}\n`;
  for (const [title, name] of [["EXIT STATUS", "Exit status"], ["ENVIRONMENT", "Environment"]]) {
    out += `.SH "${title}"\n`;
    for (const e of entries(section(name), splitEntry) ?? []) out += `.TP\n.B ${roff(e.term)}\n${roff(e.text.join(" "))}\n`;
  }
  out += `.SH EXAMPLES\n.nf\n${roff(section("Examples").map((l) => l.replace(/^ {2}/, "")).join("\n"))}\n.fi\n`;
  for (const c of commands) {
    const h = parseHelp(c.help);
    out += `.SH "CLOCKSOURCE ${roff(c.name.toUpperCase())}"\n.nf\n${h.usage.map((u) => `.B ${roff(u)}`).join("\n")}\n.fi\n.PP\n${roff(h.description.join("\n\n")).replace(/\n\n/g, "\n.PP\n")}\n`;
    for (const s of h.sections) out += renderSection(s.title, s.lines, splitEntry);
  }
  const closing = t.sections.find((s) => s.title === "")?.lines.join(" ") ?? "";
  out += `.SH NOTES\n${roff(closing.replace(/`/g, ""))}\n.SH "SEE ALSO"\n.BR lscpu (1),\n.BR trace\\-cmd (1),\n.BR perf (1),\n.BR systemd\\-detect\\-virt (1),\n.BR virt\\-what (1)\n`;
  return out;
}
