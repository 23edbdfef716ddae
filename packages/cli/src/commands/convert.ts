import { checkMappingParams, ClocksourceError, convertStream, DEFAULT_MAX_LINE_BYTES, parseMappingFile, readUserFile, resolveMapping } from "@clocksource/core/mapping";
import { UsageError, type CliIo } from "../cli-io.js";
import { loadMappingKinds } from "../mapping-kind-table.js";
import { parseOptions } from "../parse-options.js";
import { isRegularFile, writesToDescriptor } from "../regular-file-fd.js";
import { stdinChunks } from "../stdin-chunks.js";

export const summary = "convert timestamps exactly with a mapping file (stdin → stdout, streaming)";

export const help = `Usage: clocksource convert --mapping FILE [--reverse] [--vcpu N] [--epoch K]
                          [--jsonl-field NAME] [--skip-invalid] [--max-line-bytes N]

Reads unsigned 64-bit integers, one per line on stdin (decimal or 0x-hex), and
writes each converted, in decimal, on stdout: from the mapping's source domain
to its target (e.g. guest.tsc → host.tsc), or back with --reverse. Exact; the
epoch is chosen from each value itself. Streams in constant memory.

A line ends at a line feed; a CR just before it is part of the line's end, a
lone CR is part of the line. Every converted line ends with a line feed. A
line that cannot be converted stops the command (exit 1) with its line number,
after every line before it has been written.

Options:
  --mapping FILE       a mapping file (kvm-mapping, arm-mapping, sync --out, …)
  --reverse            convert target → source (host → guest)
  --vcpu N             use vCPU N's parameters (needed only where vCPUs differ)
  --epoch K            use epoch K for every value instead of choosing by value
  --jsonl-field NAME   input is JSON lines: rewrite field NAME (a decimal string or
                       a non-negative integer, read exactly at any size up to
                       2^64-1) of each line's top-level object, leaving every
                       other byte of the line as it was; a line naming the field
                       twice is an error
  --skip-invalid       pass lines that cannot be converted through unchanged, byte
                       for byte, and count them on stderr, instead of stopping
  --max-line-bytes N   the longest line read (default ${DEFAULT_MAX_LINE_BYTES}); a longer one is
                       an error naming it (with --skip-invalid: passed through)
  -h, --help           show this help

Examples:
  clocksource convert --mapping vm.json < guest-tsc.txt > host-tsc.txt
                                       guest TSC values to the host's TSC
  clocksource convert --mapping vm.json --reverse --vcpu 2
                                       host TSC values to vCPU 2's guest TSC
  clocksource convert --mapping vm.json --jsonl-field ts < events.jsonl
                                       rewrite each event's "ts" field

Environment:
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

/** Largest mapping file read: thousands of epochs of per-vCPU parameters fit. */
const MAPPING_FILE_MAX_BYTES = 16 * 1024 * 1024;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("convert", args, {
    options: {
      mapping: { type: "string" },
      reverse: { type: "boolean", default: false },
      vcpu: { type: "string" },
      epoch: { type: "string" },
      "jsonl-field": { type: "string" },
      "skip-invalid": { type: "boolean", default: false },
      "max-line-bytes": { type: "string" },
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
  const maxLine = values["max-line-bytes"];
  if (maxLine !== undefined && !/^[1-9][0-9]{0,9}$/.test(maxLine)) throw new UsageError(`convert: --max-line-bytes must be a positive integer, got ${JSON.stringify(maxLine)}`);
  const field = values["jsonl-field"];
  if (field !== undefined && field.length === 0) throw new UsageError("convert: --jsonl-field needs a field name");
  const bytes = readUserFile(values.mapping, { maxBytes: MAPPING_FILE_MAX_BYTES, what: "mapping file" });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ClocksourceError("INVALID_MAPPING", `invalid mapping file: ${values.mapping} is not UTF-8 text`);
  }
  const file = parseMappingFile(text);
  // Only the codec of this file's kind is loaded.
  const registry = await loadMappingKinds([file.kind]);
  checkMappingParams(file, registry);
  const mapping = resolveMapping(file, registry, { ...(vcpu !== undefined ? { vcpu } : {}), ...(epoch !== undefined ? { epoch } : {}) });
  // Output to a regular file goes straight to the descriptor, as input from one is read from it
  // (process.stdout writes such a file synchronously too, so nothing written before is overtaken).
  const toFile = io.stdoutFd !== undefined && isRegularFile(io.stdoutFd);
  const output = toFile ? { regularFileFd: io.stdoutFd as number } : io.stdout;
  const r = await convertStream(mapping, stdinChunks(io), output, {
    direction: values.reverse ? "inverse" : "forward",
    // A stream on a descriptor (process.stdout) is done with a chunk when its write callback runs.
    // (Not asked of a file's descriptor: that would make the stdout stream, which it never uses.)
    reuseOutputBuffers: !toFile && writesToDescriptor(io.stdout),
    skipInvalid: values["skip-invalid"],
    ...(field !== undefined ? { jsonlField: field } : {}),
    ...(maxLine !== undefined ? { maxLineBytes: Number(maxLine) } : {}),
  });
  if (r.skipped > 0) io.stderr.write(`convert: passed ${r.skipped} invalid line(s) through unchanged (first: line ${r.firstSkipped})\n`);
  if (r.ambiguous > 0) io.stderr.write(`convert: ${r.ambiguous} value(s) lay in an epoch switch window (or where the source clock went back); converted with the later epoch\n`);
  return 0;
}
