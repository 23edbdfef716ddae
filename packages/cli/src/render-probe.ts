import { FactSet, type Fact, type FactValue, type ProbeReport } from "@clocksource/core";
import { renderKvmHost } from "./render-kvm-host.js";

const MAX_VALUE = 60;

function show(v: FactValue | undefined): string {
  if (v === null || v === undefined) return "unknown";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

function hz(v: number | null): string {
  if (v === null) return "unknown";
  if (v >= 1e9) return `${(v / 1e9).toFixed(6).replace(/\.?0+$/, "")} GHz (${v} Hz)`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(6).replace(/\.?0+$/, "")} MHz (${v} Hz)`;
  return `${v} Hz`;
}

function tri(v: boolean | null): string {
  return v === null ? "unknown" : v ? "yes" : "no";
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(20)} ${value}\n`;
}

function factLine(f: Fact): string {
  const why = f.reason ? ` — ${f.reason}` : "";
  return `  ${f.name.padEnd(34)} ${show(f.value).padEnd(24)} [${f.confidence}] ${f.source}${why}\n`;
}

/** Renders a probe report for people: summary first, then every fact, then the ranking. */
export function renderProbeReport(r: ProbeReport): string {
  let out = `clocksource probe — ${r.live ? "this machine" : `snapshot ${r.sysroot}`}\n\n`;
  out += row("architecture", r.arch);
  out += row("cpu", [r.cpu.vendor, r.cpu.model].filter((x) => x).join(" — ") || "unknown");
  const virt = r.virtualization;
  out += row("virtualization", virt.role === "guest" ? `guest of ${virt.hypervisor}` : virt.role);
  out += row("kernel clocksource", `${r.kernelClocksource.current ?? "unknown"} (available: ${r.kernelClocksource.available.join(", ") || "unknown"})`);
  if (r.x86) {
    out += row("x86 vendor", r.x86.vendor ?? "unknown");
    out += row("invariant TSC", tri(r.x86.invariantTsc));
    out += row("TSC frequency", `${hz(r.x86.tscFrequencyHz)}${r.x86.tscFrequencySource ? ` from ${r.x86.tscFrequencySource}` : ""}`);
    out += row("TSC marked unstable", tri(r.x86.tscUnstable));
    if (r.x86.kvm) out += renderKvmHost(r.x86.kvm, new FactSet(r.facts), row, r.live);
  }
  if (r.arm) {
    out += row("generic timer", tri(r.arm.genericTimer));
    out += row("timer frequency", `${hz(r.arm.timerFrequencyHz)}${r.arm.timerFrequencySource ? ` from ${r.arm.timerFrequencySource}` : ""}`);
    out += row("counter width", r.arm.counterWidthBits === null ? "unknown" : `${r.arm.counterWidthBits} bits`);
    out += row("errata", r.arm.errata.length ? r.arm.errata.map((e) => show(e)).join(", ") : "none found");
  }
  if (virt.notes.length) out += `\nvirtualization notes:\n${virt.notes.map((n) => `  - ${n}\n`).join("")}`;
  if (r.conflicts.length) {
    out += "\nconflicting sources (the stronger one wins):\n";
    for (const c of r.conflicts) out += `  - ${c.name}: ${show(c.chosen.value)} from ${c.chosen.source} over ${c.overruled.map((f) => `${show(f.value)} from ${f.source}`).join("; ")}\n`;
  }
  out += `\nfacts (${r.facts.length}):\n`;
  for (const f of r.facts) out += factLine(f);
  out += "\nbackends (best first):\n";
  for (const b of r.backends) {
    const mark = b.id === r.selected ? "*" : " ";
    const state = b.usable ? (b.eligible ? "usable" : "usable, ruled out by policy") : "not usable";
    out += `  ${mark} ${b.id.padEnd(20)} rating ${String(b.rating).padStart(3)}  ${state}; mapping ${b.mapping}\n`;
    for (const reason of b.reasons) out += `        - ${reason}\n`;
  }
  out += `\nselected: ${r.selected ?? "none"}\n`;
  for (const e of r.explanation) out += `  ${e}\n`;
  return out;
}
