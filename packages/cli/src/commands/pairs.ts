import { buildMappingFile, clockPairsCodec, ClocksourceError, fitClockPairs, serializeMappingFile, writeUserFile, type ClockPair } from "@clocksource/core";
import { UsageError, type CliIo } from "../cli-io.js";
import { cliVersion } from "../package-versions.js";
import { parseOptions } from "../parse-options.js";

export const summary = "record pairs of this machine's counter and a clock, and write the mapping between them";

export const help = `Usage: clocksource pairs [--clock monotonic|monotonic_raw] [--samples N]
                        [--duration MS] [--machine host|guest] [--out FILE]

Reads this machine's hardware counter (x86 TSC, arm64 CNTVCT, named cntpct on
a host, whose virtual counter has no offset) and a system clock back to back, N times over MS milliseconds, fits the line between them
and writes a mapping file (kind clock-pairs, <machine>.<counter> →
<machine>.<clock>) whose error bound covers every kept pair: half its read
window plus the fit's residual. Give it to merge (--mapping NAME=FILE) to tie a
trace recorded with a nanosecond clock (perf record -k CLOCK_MONOTONIC, the
ftrace mono clock) to the counter that crosses machines. Drift over the span
of the traces is not in the bound: record during the traces, or over as long.

Options:
  --clock CLOCK     monotonic (CLOCK_MONOTONIC, the default; ftrace "mono",
                    perf -k CLOCK_MONOTONIC) or monotonic_raw (CLOCK_MONOTONIC_RAW;
                    ftrace "mono_raw"); needs the native reader
  --samples N       pairs to read (default 2000, 2..10000000)
  --duration MS     spread them over this long (default 1000, 0..3600000)
  --machine CTX     host (the default) when recorded on the host, guest when
                    recorded in a guest: the file's domains are CTX.<counter>
                    and CTX.<clock>, and merge --mapping NAME=FILE binds guest.*
                    to NAME and host.* to NAME's host (for the host, NAME is
                    the host itself)
  --out FILE        where to write (default: standard output)
  -h, --help        show this help

Examples:
  clocksource pairs --out host-pairs.json
  clocksource pairs --clock monotonic_raw --samples 20000 --duration 10000 --machine guest --out vm1-pairs.json

Environment:
  CLOCKSOURCE_NATIVE  0: do not load the native counter reader (pairs needs it)
  CLOCKSOURCE_DEBUG   1: add a stack trace to an unexpected error
`;

function intOption(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`pairs: ${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

function producer(): string {
  return `clocksource pairs ${cliVersion()}`;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("pairs", args, {
    options: {
      clock: { type: "string", default: "monotonic" },
      samples: { type: "string" },
      duration: { type: "string" },
      machine: { type: "string", default: "host" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const clock = values.clock;
  if (clock !== "monotonic" && clock !== "monotonic_raw") throw new UsageError(`pairs: --clock must be monotonic or monotonic_raw, got ${JSON.stringify(clock)}`);
  const machine = values.machine;
  if (machine !== "host" && machine !== "guest") throw new UsageError(`pairs: --machine must be host or guest, got ${JSON.stringify(machine)}`);
  const samples = intOption("--samples", values.samples, 2000, 2, 10_000_000);
  const durationMs = intOption("--duration", values.duration, 1000, 0, 3_600_000);

  let mod: typeof import("@clocksource/native");
  try {
    mod = await import("@clocksource/native");
  } catch (e) {
    throw new ClocksourceError("BACKEND_UNUSABLE", `pairs: the native counter reader is not installed (${String((e as Error)?.message ?? e).split("\n")[0]})`);
  }
  const loaded = mod.loadNativeReader();
  if (!loaded.ok) throw new ClocksourceError("BACKEND_UNUSABLE", `pairs: the native counter reader is unavailable: ${loaded.reason}`);
  const native = loaded.native;
  const read = loaded.counterReader();
  if (native.counter === "none" || !read) throw new ClocksourceError("BACKEND_UNUSABLE", "pairs: this CPU has no counter the native reader can read");
  // arm64: user space reads the virtual counter; on a KVM host it equals the physical one (the
  // host runs with a zero CNTVOFF), which is the domain Arm mappings name (guest.cntvct → host.cntpct).
  const counter = native.counter === "tsc" ? "tsc" : machine === "host" ? "cntpct" : "cntvct";

  const pairs: ClockPair[] = [];
  const raw = new BigUint64Array(3);
  const gapNs = samples > 1 ? (BigInt(durationMs) * 1_000_000n) / BigInt(samples - 1) : 0n;
  let next = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) {
    if (clock === "monotonic") {
      const before = read();
      const c = process.hrtime.bigint();
      const after = read();
      pairs.push({ before, after, clock: c });
    } else {
      native.readCounterPair(raw);
      pairs.push({ before: raw[0] as bigint, after: raw[2] as bigint, clock: raw[1] as bigint });
    }
    if (gapNs > 0n) {
      next += gapNs;
      // Sleep the long gaps, spin the short ones: a sample each gap, not each wake-up.
      const wait = next - process.hrtime.bigint();
      if (wait > 2_000_000n) await new Promise((r) => setTimeout(r, Number(wait / 1_000_000n) - 1));
      while (process.hrtime.bigint() < next) {
        // spin
      }
    }
  }
  const fit = fitClockPairs(pairs);
  const now = new Date().toISOString();
  const file = buildMappingFile(clockPairsCodec, {
    from: `${machine}.${counter}`,
    to: `${machine}.${clock}`,
    producer: producer(),
    origin: { clock: clock === "monotonic" ? "CLOCK_MONOTONIC" : "CLOCK_MONOTONIC_RAW", counter, samples, keptSamples: fit.kept, minReadWindowTicks: fit.minWindow.toString(), durationMs },
    epochs: [{ observedAt: now, lastObservedAt: now, errorBound: fit.errorBound, params: fit.params }],
  });
  await writeUserFile(values.out ?? "-", serializeMappingFile(file), { what: "mapping file", stdout: io.stdout });
  const hz = (Number(fit.params.den) * 1e9) / Number(fit.params.num);
  io.stderr.write(`pairs: ${fit.kept} of ${samples} pairs kept (read window ≤ ${fit.minWindow * 2n + 1n} ticks); ${counter} at ${(hz / 1e6).toFixed(3)} MHz against ${clock}; bound ±${fit.errorBound} ns\n`);
  return 0;
}
