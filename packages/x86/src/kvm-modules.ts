/**
 * Which KVM this x86 kernel has, from `sys/module`: the generic `kvm` module
 * and the vendor module that registers `/dev/kvm` (`kvm_intel` on VMX,
 * `kvm_amd` on SVM, `kvm_pvm` for PVM, which needs neither). A module's
 * directory exists when it is loaded, or built in with parameters (every KVM
 * module has some); only a loadable module has `initstate`. Parameters are
 * read as the kernel prints them (`Y`/`N` for bools, decimal for numbers) and
 * kept as text: they are evidence, shown as found.
 */
import { fact, FACT, unknownFact, type Fact, type SystemView } from "@clocksource/core";

/** The vendor modules that can back `/dev/kvm` on x86, with what each one is. */
export const KVM_VENDOR_MODULES: readonly { readonly name: string; readonly what: string }[] = [
  { name: "kvm_intel", what: "KVM on Intel VMX" },
  { name: "kvm_amd", what: "KVM on AMD SVM" },
  { name: "kvm_pvm", what: "PVM (pagetable-based virtualization in software, without VMX or SVM)" },
];

/** Every KVM module whose parameters are probe inputs (the generic one first). */
export const KVM_MODULES: readonly string[] = ["kvm", ...KVM_VENDOR_MODULES.map((m) => m.name)];

/** A module parameter is at most a page; more is not the kernel's. */
const PARAM_MAX_BYTES = 4096;
/** KVM modules have a few dozen parameters; a longer listing is cut. */
const PARAMS_MAX = 512;
/** A parameter value shown as evidence is cut here (array parameters can be long). */
const VALUE_SHOWN_MAX = 256;

/** One KVM module as `sys/module/<name>` shows it. */
export interface KvmModule {
  readonly name: string;
  /** `sys/module/<name>` as facts name it. */
  readonly source: string;
  /** The loadable module's `initstate` (`live`, `coming`, `going`); null when built in. */
  readonly initstate: string | null;
  /** Parameter name → value as printed (trimmed), for those that could be read. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Parameters (or the listing) that could not be read, with the reason. */
  readonly unreadable: readonly string[];
}

/** The result of looking for one module: there, absent, or the lookup failed. */
export type KvmModuleLookup = { readonly present: true; readonly module: KvmModule } | { readonly present: false; readonly failed?: { readonly source: string; readonly reason: string } };

/** Reads `sys/module/<name>` through the view; never throws. */
export function readKvmModule(view: SystemView, name: string): KvmModuleLookup {
  const dir = `sys/module/${name}`;
  const kind = view.kind(dir);
  if (!kind.ok) return kind.missing ? { present: false } : { present: false, failed: { source: kind.source, reason: kind.reason } };
  if (kind.value !== "directory") return { present: false, failed: { source: kind.source, reason: `is a ${kind.value}, not a module directory` } };
  const state = view.readText(`${dir}/initstate`, { maxBytes: 64 });
  const unreadable: string[] = [];
  if (!state.ok && !state.missing) unreadable.push(`initstate: ${state.reason}`);
  const parameters: Record<string, string> = {};
  const listing = view.list(`${dir}/parameters`, { maxEntries: PARAMS_MAX });
  if (listing.ok) {
    for (const p of listing.value) {
      const r = view.readText(`${dir}/parameters/${p}`, { maxBytes: PARAM_MAX_BYTES });
      if (!r.ok) {
        unreadable.push(`${p}: ${r.reason}`);
        continue;
      }
      const v = r.value.trim();
      parameters[p] = v.length > VALUE_SHOWN_MAX ? `${v.slice(0, VALUE_SHOWN_MAX - 1)}…` : v;
    }
    if (listing.truncated) unreadable.push(`parameters: only the first ${PARAMS_MAX} were read`);
  } else if (!listing.missing) {
    unreadable.push(`parameters: ${listing.reason}`);
  }
  return {
    present: true,
    module: { name, source: kind.source, initstate: state.ok ? state.value.trim() : null, parameters, unreadable },
  };
}

/** Fact names for the module parameters (besides core's `x86.kvm_implementation`). */
export const KVM_MODULE_FACT = {
  /** `x86.kvm_module.<name>`: one per module present, its parameters as the value. */
  parametersOf: (module: string) => `x86.kvm_module.${module}`,
  /** kvm's `tsc_tolerance_ppm`: how far a guest's TSC rate may be from the host's and still run unscaled. */
  tscTolerancePpm: "x86.kvm_tsc_tolerance_ppm",
  /** kvm's `kvmclock_periodic_sync`: whether KVM refreshes every vCPU's kvmclock every 300 s. */
  kvmclockPeriodicSync: "x86.kvm_kvmclock_periodic_sync",
} as const;

function howPresent(m: KvmModule): string {
  return m.initstate === null ? "built in (no initstate)" : `a loadable module (initstate ${m.initstate})`;
}

/** Facts about the modules found: which KVM, each module's parameters, and the parameters that matter for time. */
export function kvmModuleFacts(view: SystemView, modules: readonly KvmModule[], failures: readonly { source: string; reason: string }[]): Fact[] {
  const out: Fact[] = [];
  const byName = new Map(modules.map((m) => [m.name, m]));
  const vendors = KVM_VENDOR_MODULES.filter((v) => byName.has(v.name));
  if (vendors.length > 0) {
    const why = vendors.map((v) => `${v.name} is ${v.what}, ${howPresent(byName.get(v.name) as KvmModule)}`).join("; ");
    out.push(fact(FACT.x86KvmImplementation, vendors.map((v) => v.name), vendors.map((v) => (byName.get(v.name) as KvmModule).source).join(", "), "definitive", why));
  } else if (failures.length > 0) {
    out.push(unknownFact(FACT.x86KvmImplementation, failures.map((f) => f.source).join(", "), failures.map((f) => `${f.source}: ${f.reason}`).join("; ")));
  } else if (byName.has("kvm")) {
    out.push(fact(FACT.x86KvmImplementation, [], (byName.get("kvm") as KvmModule).source, "derived", `kvm is there but none of ${KVM_VENDOR_MODULES.map((v) => v.name).join(", ")}: nothing registers /dev/kvm, no VM can run`));
  }
  for (const m of modules) {
    const note = m.unreadable.length > 0 ? `; unreadable: ${m.unreadable.join(", ")}` : "";
    out.push(fact(KVM_MODULE_FACT.parametersOf(m.name), m.parameters, view.describe(`sys/module/${m.name}/parameters`), "definitive", `${howPresent(m)}${note}`));
  }
  const kvm = byName.get("kvm");
  if (kvm) out.push(...timeParameterFacts(view, kvm));
  return out;
}

function timeParameterFacts(view: SystemView, kvm: KvmModule): Fact[] {
  const out: Fact[] = [];
  const src = (p: string) => view.describe(`sys/module/kvm/parameters/${p}`);
  const ppm = kvm.parameters.tsc_tolerance_ppm;
  if (ppm !== undefined) {
    out.push(
      /^[0-9]{1,10}$/.test(ppm) && Number(ppm) <= 0xffff_ffff
        ? fact(KVM_MODULE_FACT.tscTolerancePpm, Number(ppm), src("tsc_tolerance_ppm"), "definitive", "a guest TSC rate asked within this many ppm of the host's runs unscaled and without catch-up (kvm_set_tsc_khz)")
        : unknownFact(KVM_MODULE_FACT.tscTolerancePpm, src("tsc_tolerance_ppm"), `malformed: expected an unsigned 32-bit decimal, got ${JSON.stringify(ppm.slice(0, 30))}`),
    );
  }
  const sync = kvm.parameters.kvmclock_periodic_sync;
  if (sync !== undefined) {
    const b = parseBool(sync);
    out.push(
      b === null
        ? unknownFact(KVM_MODULE_FACT.kvmclockPeriodicSync, src("kvmclock_periodic_sync"), `malformed: expected Y or N, got ${JSON.stringify(sync.slice(0, 30))}`)
        : fact(KVM_MODULE_FACT.kvmclockPeriodicSync, b, src("kvmclock_periodic_sync"), "definitive", b ? "KVM refreshes every vCPU's kvmclock every 300 s (KVMCLOCK_SYNC_PERIOD)" : "no periodic kvmclock refresh"),
    );
  }
  return out;
}

/** A bool module parameter as the kernel prints it (`Y`/`N`; `1`/`0` for an int used as a bool). */
export function parseBool(v: string): boolean | null {
  if (v === "Y" || v === "y" || v === "1") return true;
  if (v === "N" || v === "n" || v === "0") return false;
  return null;
}
