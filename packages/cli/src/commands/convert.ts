import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { checkMappingParams, ClocksourceError, isClocksourceError, parseMappingFile, parseU64, resolveMapping, U64_MAX, type Conversion } from "@clocksource/core";
import { UsageError, type CliIo } from "../cli-io.js";
import { mappingKinds } from "../mapping-kinds.js";
import { parseOptions } from "../parse-options.js";

export const summary = "convert timestamps exactly with a mapping file (stdin → stdout, streaming)";

export const help = `Usage: clocksource convert --mapping FILE [--reverse] [--vcpu N] [--epoch K]
                          [--jsonl-field NAME] [--skip-invalid]

Reads unsigned 64-bit integers, one per line on stdin (decimal or 0x-hex), and
writes each converted, in decimal, on stdout: from the mapping's source domain
to its target (e.g. guest.tsc → host.tsc), or back with --reverse. Exact; the
epoch is chosen from each value itself (docs/mapping-files.md). Streams in
constant memory.

Options:
  --mapping FILE       a mapping file (kvm-mapping, arm-mapping, sync --out, …)
  --reverse            convert target → source (host → guest)
  --vcpu N             use vCPU N's parameters (needed only where vCPUs differ)
  --epoch K            use epoch K for every value instead of choosing by value
  --jsonl-field NAME   input is JSON lines: rewrite field NAME (a decimal string or
                       a non-negative integer, read exactly at any size up to
                       2^64-1) of each line's top-level object, leaving the rest
                       of the line untouched; a line naming the field twice is
                       an error
  --skip-invalid       pass lines that cannot be converted through unchanged and
                       count them on stderr, instead of stopping with exit 2
  -h, --help           show this help

Environment:
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

/**
 * The spans of every value of a top-level field in a JSON object's text, found
 * without re-serializing (the line must already be valid JSON). Every one, not
 * the first: a duplicated key is legal JSON text, and JSON.parse keeps the last.
 */
function fieldValueSpans(line: string, name: string): { start: number; end: number }[] | undefined {
  const spans: { start: number; end: number }[] = [];
  let i = 0;
  const n = line.length;
  const ws = () => {
    while (i < n && (line[i] === " " || line[i] === "\t" || line[i] === "\r" || line[i] === "\n")) i++;
  };
  const skipString = () => {
    i++; // opening quote
    while (i < n && line[i] !== '"') i += line[i] === "\\" ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    ws();
    const c = line[i];
    if (c === '"') return skipString();
    if (c === "{" || c === "[") {
      let depth = 0;
      while (i < n) {
        const d = line[i];
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === "{" || d === "[") depth++;
        else if (d === "}" || d === "]") {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    while (i < n && !",}] \t\r\n".includes(line[i] as string)) i++;
  };
  ws();
  if (line[i] !== "{") return undefined;
  i++;
  ws();
  if (line[i] === "}") return spans;
  for (;;) {
    ws();
    if (line[i] !== '"') return undefined;
    const keyStart = i;
    skipString();
    const key = JSON.parse(line.slice(keyStart, i)) as string;
    ws();
    if (line[i] !== ":") return undefined;
    i++;
    ws();
    const start = i;
    skipValue();
    if (key === name) spans.push({ start, end: i });
    ws();
    if (line[i] === "}") return spans;
    if (line[i] !== ",") return undefined;
    i++;
  }
}

/** Collects output and writes it in large pieces, waiting when the pipe is full. */
class Output {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly stream: NodeJS.WritableStream) {}

  async push(s: string): Promise<void> {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 65536) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once("drain", () => resolve()));
  }
}

function lineError(lineNumber: number, message: string): ClocksourceError {
  return new ClocksourceError("INVALID_U64", `line ${lineNumber}: ${message}`);
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("convert", args, {
    options: {
      mapping: { type: "string" },
      reverse: { type: "boolean", default: false },
      vcpu: { type: "string" },
      epoch: { type: "string" },
      "jsonl-field": { type: "string" },
      "skip-invalid": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (values.mapping === undefined) throw new UsageError("convert: --mapping FILE is required");
  const index = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    if (!/^(0|[1-9][0-9]{0,8})$/.test(v)) throw new UsageError(`convert: ${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const vcpu = index(values.vcpu, "--vcpu");
  const epoch = index(values.epoch, "--epoch");
  const field = values["jsonl-field"];
  if (field !== undefined && field.length === 0) throw new UsageError("convert: --jsonl-field needs a field name");
  let text: string;
  try {
    text = readFileSync(values.mapping, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`convert: cannot read ${values.mapping}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message}`);
  }
  const file = parseMappingFile(text);
  const registry = mappingKinds();
  checkMappingParams(file, registry);
  const mapping = resolveMapping(file, registry, { ...(vcpu !== undefined ? { vcpu } : {}), ...(epoch !== undefined ? { epoch } : {}) });
  const convert: (v: bigint) => Conversion = values.reverse ? mapping.inverse : mapping.forward;
  const [fromName, toName] = values.reverse ? [file.to, file.from] : [file.from, file.to];

  const out = new Output(io.stdout);
  const skip = values["skip-invalid"];
  let lineNumber = 0;
  let skipped = 0;
  let firstSkipped = 0;
  let ambiguous = 0;
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    lineNumber++;
    try {
      if (field === undefined) {
        let v: bigint;
        try {
          v = parseU64(line, `${fromName} value`);
        } catch (e) {
          throw lineError(lineNumber, (e as Error).message);
        }
        const c = convertOne(convert, v, lineNumber, toName);
        if (c.ambiguous) ambiguous++;
        await out.push(`${c.value}\n`);
        continue;
      }
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw lineError(lineNumber, "not a JSON value");
      }
      if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw lineError(lineNumber, "not a JSON object");
      if (!Object.hasOwn(obj, field)) throw lineError(lineNumber, `no field ${JSON.stringify(field)}`);
      const spans = fieldValueSpans(line, field);
      if (!spans || spans.length === 0) throw lineError(lineNumber, `field ${JSON.stringify(field)} not found at the top level`);
      // JSON.parse kept the last of duplicated keys; which one the writer meant is anyone's guess.
      if (spans.length > 1) throw lineError(lineNumber, `field ${JSON.stringify(field)} appears ${spans.length} times`);
      const span = spans[0] as { start: number; end: number };
      // The value's own text, never a float: a number stays exact above 2^53 and 4.0000000000000001 is not 4.
      const rawText = line.slice(span.start, span.end);
      const quoted = rawText.startsWith('"');
      const digits = quoted ? rawText.slice(1, -1) : rawText;
      if (!/^(0|[1-9][0-9]*)$/.test(digits) || (quoted && !rawText.endsWith('"')) || BigInt(digits) > U64_MAX) {
        throw lineError(lineNumber, `field ${JSON.stringify(field)} is not a u64 (a decimal string or a non-negative integer, at most 2^64-1): ${rawText.slice(0, 40)}`);
      }
      const v = BigInt(digits);
      const c = convertOne(convert, v, lineNumber, toName);
      if (c.ambiguous) ambiguous++;
      // Same JSON type as the input: a string stays a string; a number stays a number, with every digit exact.
      const replacement = quoted ? `"${c.value}"` : c.value.toString();
      await out.push(`${line.slice(0, span.start)}${replacement}${line.slice(span.end)}\n`);
    } catch (e) {
      if (!skip || !isClocksourceError(e)) {
        await out.flush();
        throw e;
      }
      skipped++;
      if (firstSkipped === 0) firstSkipped = lineNumber;
      await out.push(`${line}\n`);
    }
  }
  await out.flush();
  if (skipped > 0) io.stderr.write(`convert: passed ${skipped} invalid line(s) through unchanged (first: line ${firstSkipped})\n`);
  if (ambiguous > 0) io.stderr.write(`convert: ${ambiguous} value(s) lay in an epoch switch window (or where the source clock went back); converted with the later epoch\n`);
  return 0;
}

function convertOne(convert: (v: bigint) => Conversion, v: bigint, lineNumber: number, toName: string): Conversion {
  try {
    return convert(v);
  } catch (e) {
    if (isClocksourceError(e)) throw lineError(lineNumber, `${v} cannot be converted to ${toName}: ${e.message}`);
    throw e;
  }
}
