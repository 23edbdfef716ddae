/**
 * Reads the structure out of a command's help text — the one source the
 * man page, docs/cli.md and the shell completions are generated from, so
 * none of them can say something the program's own `--help` does not.
 *
 * The help format: "Usage: …" lines (continuations indented), a description,
 * then sections headed by a line like "Options:" whose entries are indented
 * two spaces, an option's description starting in a column of its own and
 * continuing on more-indented lines.
 */

/** One option of a command, as its help lists it. */
export interface HelpOption {
  /** Every spelling: `["-h", "--help"]`. */
  readonly flags: readonly string[];
  /** The value's placeholder (`DIR`, `FILE`, `ID[,ID...]`), absent for a switch. */
  readonly arg?: string;
  /** The description, its lines joined. */
  readonly description: string;
}

/** One "Name:" section: its entries (`term` + `description`) or, when not a list, its lines. */
export interface HelpSection {
  readonly title: string;
  readonly lines: readonly string[];
}

export interface ParsedHelp {
  /** The usage lines, without "Usage: " and with continuation indentation removed. */
  readonly usage: readonly string[];
  /** The paragraphs between the usage and the first section. */
  readonly description: readonly string[];
  readonly sections: readonly HelpSection[];
  /** The entries of the "Options" section. */
  readonly options: readonly HelpOption[];
}

const SECTION = /^([A-Z][A-Za-z ]*):$/;
const OPTION = /^ {2}(-[A-Za-z], )?(--[a-z][a-z0-9-]*)(?: ([A-Z][A-Z0-9_]*(?:\[[^\]]*\])?|\[[A-Z]+\]))?(?:\s{2,}(.*))?$/;

/** Splits a help text into usage, description and sections, and lists its options. */
export function parseHelp(text: string): ParsedHelp {
  const lines = text.replace(/\n+$/, "").split("\n");
  const usage: string[] = [];
  let i = 0;
  if (lines[0]?.startsWith("Usage: ")) {
    usage.push((lines[0] as string).slice("Usage: ".length).trim());
    i = 1;
    while (i < lines.length && /^\s+\S/.test(lines[i] as string)) usage.push((lines[i++] as string).trim());
  }
  const description: string[] = [];
  let paragraph: string[] = [];
  const sections: { title: string; lines: string[] }[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = SECTION.exec(line);
    if (m) {
      sections.push({ title: m[1] as string, lines: [] });
      continue;
    }
    const current = sections[sections.length - 1];
    if (current && (line.startsWith(" ") || line === "")) {
      current.lines.push(line);
      continue;
    }
    if (current && line !== "") {
      // Unindented text after a section ends it: a closing paragraph of the description.
      sections.push({ title: "", lines: [line] });
      continue;
    }
    if (line === "") {
      if (paragraph.length) description.push(paragraph.join("\n"));
      paragraph = [];
    } else paragraph.push(line);
  }
  if (paragraph.length) description.push(paragraph.join("\n"));
  for (const s of sections) while (s.lines.length && s.lines[s.lines.length - 1] === "") s.lines.pop();
  return { usage, description, sections, options: parseOptionsSection(sections.find((s) => s.title === "Options")?.lines ?? []) };
}

function parseOptionsSection(lines: readonly string[]): HelpOption[] {
  const out: { flags: string[]; arg?: string; description: string[] }[] = [];
  for (const line of lines) {
    const m = OPTION.exec(line);
    if (m) {
      const flags = [m[1]?.slice(0, 2), m[2] as string].filter((f): f is string => !!f);
      out.push({ flags, ...(m[3] ? { arg: m[3] } : {}), description: m[4] ? [m[4].trim()] : [] });
    } else if (line.trim() && out.length) {
      (out[out.length - 1] as { description: string[] }).description.push(line.trim());
    }
  }
  return out.map((o) => ({ flags: o.flags, ...(o.arg ? { arg: o.arg } : {}), description: o.description.join(" ") }));
}

/** Splits a list entry ("  TERM   description") into its term and description; null for a continuation line. */
export function splitEntry(line: string): { term: string; description: string } | null {
  // A term is words separated by single spaces; two or more spaces start the description.
  const m = /^ {2}(\S+(?: \S+)*)(?: {2,}(.*))?$/.exec(line);
  if (!m || /^ {3,}/.test(line)) return null;
  return { term: m[1] as string, description: (m[2] ?? "").trim() };
}
