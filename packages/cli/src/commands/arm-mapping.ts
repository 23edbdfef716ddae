import { buildMappingFile, ClocksourceError, jsonTimestamp, parseU64, readUserFile, writeMappingFile, type EpochInput, type JsonObject } from "@clocksource/core";
import { armCntvoffCodec, epochsFromJsonLines, MAX_COUNTER_WIDTH, MIN_COUNTER_WIDTH, viewDomains, type CntvoffParams, type CounterView } from "@clocksource/arm";
import { UsageError, type CliIo } from "../cli-io.js";
import { cliVersion } from "../package-versions.js";
import { parseOptions } from "../parse-options.js";

export const summary = "make an Arm guest ↔ host counter mapping file from a VMM's CNTVOFF";

export const help = `Usage: clocksource arm-mapping --voffset N [--poffset N] [--width BITS] [--out FILE]
       clocksource arm-mapping --epochs FILE [--width BITS] [--out FILE]

Writes a mapping file (kind arm-cntvoff, schema clocksource.mapping/v1) for an
Arm guest under KVM, where the guest's virtual counter is the host's physical
counter minus the VM's offset: guest.cntvct = (host.cntpct - voffset) mod 2^w.
\`clocksource convert\` reads it (guest -> host by default, --reverse host -> guest).

The offset is what the VMM knows: the value it set with KVM_ARM_SET_COUNTER_OFFSET,
or host counter minus KVM_REG_ARM_TIMER_CNT read together. QEMU rewrites it on
every pause/resume and migration, so several offsets make several epochs.

Options:
  --voffset N       the virtual counter offset (CNTVOFF), decimal or 0x hex
  --poffset N       the physical counter offset (CNTPOFF, FEAT_ECV), recorded in the file
  --view V          virtual (default: guest.cntvct -> host.cntpct, uses voffset) or
                    physical (guest.cntpct -> host.cntpct, uses poffset; needs --poffset)
  --width BITS      counter width w, ${MIN_COUNTER_WIDTH}..${MAX_COUNTER_WIDTH} (default 64: the register as user space reads it;
                    give the kernel's width, e.g. 56, for a guest kernel's masked counter values)
  --observed-at T   when the offset was seen (ISO 8601 UTC; default now)
  --epochs FILE     JSON lines, one epoch each, in order ("-" reads stdin):
                      {"observedAt":"2025-01-01T00:00:00Z","voffset":"123","validFrom":"456"}
                    optional per line: poffset, lastObservedAt, validFrom (the guest counter
                    when the offset took effect) or hostCounter (the host counter then)
  --out FILE        write to FILE instead of stdout: "-" and /dev/stdout are stdout, a
                    regular file is replaced atomically, a symlink's target is replaced,
                    /dev/null and terminals are written in place, anything else is refused
  -h, --help        show this help

Exit status: 0 done, 1 failure at run time (--epochs FILE missing, unreadable or
malformed; --out refused or unwritable), 2 usage error.

Examples:
  clocksource arm-mapping --voffset 0x3a5c8e2f00 --width 56 --out vm.mapping.json
                                       one offset, read by a guest kernel's 56-bit counter
  clocksource arm-mapping --epochs offsets.jsonl --out vm.mapping.json
                                       the offsets a VMM recorded across pauses and migrations
  clocksource convert --mapping vm.mapping.json --reverse < host-counter.txt
                                       use it: host counter values to the guest's

Environment:
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

/** The largest --epochs input read (a file or stdin): far more epochs than any VM's life makes. */
const EPOCHS_MAX_BYTES = 16 * 1024 * 1024;


function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ClocksourceError("INVALID_MAPPING", `invalid epochs: ${what} is not UTF-8 text`);
  }
}

function readInput(path: string, io: CliIo): Promise<string> {
  if (path !== "-") return Promise.resolve(decodeUtf8(readUserFile(path, { maxBytes: EPOCHS_MAX_BYTES, what: "--epochs file" }), path));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (c: Buffer | string) => {
      const b = typeof c === "string" ? Buffer.from(c) : c;
      total += b.length;
      if (total > EPOCHS_MAX_BYTES) {
        io.stdin.off("data", onData);
        reject(new ClocksourceError("IO_ERROR", `--epochs - (standard input) is larger than ${EPOCHS_MAX_BYTES} bytes`));
        return;
      }
      chunks.push(b);
    };
    io.stdin.on("data", onData);
    io.stdin.on("end", () => {
      try {
        resolve(decodeUtf8(Buffer.concat(chunks), "standard input"));
      } catch (e) {
        reject(e);
      }
    });
    io.stdin.on("error", (e) => reject(new ClocksourceError("IO_ERROR", `cannot read standard input: ${e.message}`)));
  });
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("arm-mapping", args, {
    options: {
      voffset: { type: "string" },
      poffset: { type: "string" },
      view: { type: "string", default: "virtual" },
      width: { type: "string", default: String(MAX_COUNTER_WIDTH) },
      "observed-at": { type: "string" },
      epochs: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (values.view !== "virtual" && values.view !== "physical") throw new UsageError(`arm-mapping: --view must be virtual or physical, got ${JSON.stringify(values.view)}`);
  const view: CounterView = values.view;
  if (!/^[0-9]{1,2}$/.test(values.width) || Number(values.width) < MIN_COUNTER_WIDTH || Number(values.width) > MAX_COUNTER_WIDTH) {
    throw new UsageError(`arm-mapping: --width must be an integer in ${MIN_COUNTER_WIDTH}..${MAX_COUNTER_WIDTH}, got ${JSON.stringify(values.width)}`);
  }
  const widthBits = Number(values.width);
  if ((values.epochs === undefined) === (values.voffset === undefined)) throw new UsageError("arm-mapping: give --voffset N (one epoch) or --epochs FILE (several), not both or neither");
  if (values.out === "") throw new UsageError("arm-mapping: --out needs a file name");

  let epochs: EpochInput<CntvoffParams>[];
  let origin: JsonObject;
  if (values.voffset !== undefined) {
    const params: CntvoffParams = {
      view,
      voffset: parseU64(values.voffset, "--voffset"),
      poffset: values.poffset === undefined ? null : parseU64(values.poffset, "--poffset"),
      widthBits,
    };
    if (view === "physical" && params.poffset === null) throw new UsageError("arm-mapping: --view physical needs --poffset (the guest's physical counter is offset by CNTPOFF)");
    const observedAt = values["observed-at"] ?? new Date().toISOString();
    try {
      jsonTimestamp(observedAt, "--observed-at");
    } catch {
      throw new UsageError(`arm-mapping: --observed-at must be an ISO 8601 UTC time such as 2025-01-01T00:00:00Z, got ${JSON.stringify(observedAt)}`);
    }
    epochs = [{ observedAt, params }];
    origin = { source: "command line", voffset: params.voffset.toString(), ...(params.poffset === null ? {} : { poffset: params.poffset.toString() }) };
  } else {
    if (values.poffset !== undefined || values["observed-at"] !== undefined) throw new UsageError("arm-mapping: with --epochs, give poffset and observedAt per line, not as options");
    const text = await readInput(values.epochs as string, io);
    const parsed = epochsFromJsonLines(text, view, widthBits);
    epochs = parsed.epochs;
    origin = { source: values.epochs === "-" ? "stdin" : (values.epochs as string), epochs: epochs.length };
    if (parsed.overlapping) {
      io.stderr.write("clocksource: warning: some epochs after the first have no validFrom/hostCounter, so their ranges overlap: convert will use the last epoch for every value unless given --epoch K\n");
    }
  }
  const domains = viewDomains(view);
  let file;
  try {
    file = buildMappingFile(armCntvoffCodec, {
      from: domains.from,
      to: domains.to,
      producer: `clocksource arm-mapping ${cliVersion()}`,
      origin: { ...origin, view, widthBits },
      epochs,
    });
  } catch (e) {
    // From --voffset the values came from the command line; from --epochs, from a file (a run-time failure).
    if (e instanceof ClocksourceError && values.voffset !== undefined) throw new UsageError(`arm-mapping: ${e.message}`);
    throw e;
  }
  await writeMappingFile(values.out ?? "-", file, { stdout: io.stdout });
  return 0;
}
