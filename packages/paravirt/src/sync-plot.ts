/**
 * Draws a sync session as an SVG a person can read at a glance: the offset
 * windows of every exchange with the fitted line and its error band (top),
 * and the round-trip delays (bottom), on labelled axes with units.
 * A pure function of the estimate.
 */
import { errorBoundAt, feasibleRangeAt, offsetAt, type Estimate } from "./estimator.js";

export interface PlotOptions {
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
}

interface Unit {
  readonly name: string;
  /** ns per unit */
  readonly ns: number;
}

const UNITS: readonly Unit[] = [
  { name: "ns", ns: 1 },
  { name: "µs", ns: 1e3 },
  { name: "ms", ns: 1e6 },
  { name: "s", ns: 1e9 },
];

/** The largest unit in which `rangeNs` is still at least 2. */
function unitFor(rangeNs: number): Unit {
  let u = UNITS[0] as Unit;
  for (const c of UNITS) if (rangeNs / c.ns >= 2) u = c;
  return u;
}

/** 1-2-5 ticks covering [lo, hi]. */
function ticks(lo: number, hi: number, target = 6): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= target) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, "");
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, "");
  return v.toPrecision(2);
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Groups digits of a bigint for titles: 1 234 567. */
function grouped(v: bigint): string {
  const s = (v < 0n ? -v : v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  return v < 0n ? `−${s}` : s;
}

/** Renders the SVG document. */
export function renderSyncPlot(est: Estimate, options: PlotOptions = {}): string {
  const W = options.width ?? 960;
  const H = options.height ?? 730;
  const L = 96;
  const R = 24;
  const top = { y0: 88, y1: 400 };
  const bot = { y0: 528, y1: 650 };
  const pw = W - L - R;

  const g0 = est.firstGuestNs;
  const spanNs = Math.max(1, Number(est.lastGuestNs - g0));
  const xu = unitFor(spanNs);
  const xMax = spanNs / xu.ns;
  const X = (gNs: bigint) => L + (Number(gNs - g0) / xu.ns / xMax) * pw;

  // Offsets are drawn relative to the reported offset at the reference.
  const ref = est.offsetNs;
  const rel = (v: bigint) => Number(v - ref);
  const nPts = 48;
  const grid: bigint[] = [];
  for (let i = 0; i <= nPts; i++) grid.push(g0 + (BigInt(Math.round((spanNs * i) / nPts)) as bigint));
  if (!grid.includes(est.referenceGuestNs)) grid.push(est.referenceGuestNs);
  grid.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const fit = grid.map((g) => rel(offsetAt(est, g)));
  const bandHi = grid.map((g) => rel(offsetAt(est, g) + errorBoundAt(est, g)));
  const bandLo = grid.map((g) => rel(offsetAt(est, g) - errorBoundAt(est, g)));
  const feas = grid.map((g) => feasibleRangeAt(est, g));

  const kept = est.samples.filter((s) => s.kept);
  let yLo = Math.min(...bandLo, ...kept.map((s) => rel(s.lowNs)));
  let yHi = Math.max(...bandHi, ...kept.map((s) => rel(s.highNs)));
  if (!(yHi > yLo)) {
    yLo -= 1;
    yHi += 1;
  }
  const pad = (yHi - yLo) * 0.12;
  yLo -= pad;
  yHi += pad;
  const yu = unitFor(yHi - yLo);
  const Y = (ns: number) => top.y1 - ((ns - yLo) / (yHi - yLo)) * (top.y1 - top.y0);

  const delays = est.samples.map((s) => Number(s.delayNs));
  const dCap = Math.max(1, Number(est.delayNs.p50) * 3, Number(est.delayNs.min) * 4);
  const du = unitFor(dCap);
  const D = (ns: number) => bot.y1 - (Math.min(ns, dCap) / dCap) * (bot.y1 - bot.y0);
  const clippedDelays = delays.filter((d) => d > dCap).length;

  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<defs><clipPath id="top"><rect x="${L}" y="${top.y0}" width="${pw}" height="${top.y1 - top.y0}"/></clipPath><clipPath id="bot"><rect x="${L}" y="${bot.y0 - 2}" width="${pw}" height="${bot.y1 - bot.y0 + 4}"/></clipPath></defs>`);

  const title = options.title ?? "clocksource sync";
  o.push(`<text x="${L}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`);
  const sign = est.offsetNs < 0n ? "" : "+";
  o.push(
    `<text x="${L}" y="46" font-size="13">offset (host − guest) = ${sign}${grouped(est.offsetNs)} ns ± ${fmt(Number(est.errorBoundNs) / unitFor(Math.max(2, Number(est.errorBoundNs))).ns)} ${unitFor(Math.max(2, Number(est.errorBoundNs))).name} at guest ${grouped(est.referenceGuestNs)} ns</text>`,
  );
  o.push(
    `<text x="${L}" y="66" font-size="13">drift ${est.driftPpm >= 0 ? "+" : ""}${est.driftPpm.toFixed(3)} ppm ± ${est.driftBoundPpm.toFixed(3)} ppm · ${est.samplesUsed} of ${est.samplesValid} exchanges kept (minimum delay per time bucket) · delay min ${fmt(Number(est.delayNs.min) / 1e3)} µs, p50 ${fmt(Number(est.delayNs.p50) / 1e3)} µs${est.consistent ? "" : " · INCONSISTENT: see warnings"}</text>`,
  );

  // Axes and grid.
  const axis = (y0: number, y1: number, yTicks: number[], toY: (v: number) => number, unit: Unit, label: string) => {
    for (const t of yTicks) {
      const y = toY(t);
      if (y < y0 - 0.5 || y > y1 + 0.5) continue;
      o.push(`<line x1="${L}" x2="${L + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e6e6e6"/>`);
      o.push(`<text x="${L - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(t / unit.ns)}</text>`);
    }
    for (const t of ticks(0, xMax)) {
      const x = L + (t / xMax) * pw;
      o.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y0}" y2="${y1}" stroke="#f0f0f0"/>`);
      o.push(`<text x="${x.toFixed(1)}" y="${y1 + 16}" text-anchor="middle">${fmt(t)}</text>`);
    }
    o.push(`<rect x="${L}" y="${y0}" width="${pw}" height="${y1 - y0}" fill="none" stroke="#444"/>`);
    const my = (y0 + y1) / 2;
    o.push(`<text x="20" y="${my}" transform="rotate(-90 20 ${my})" text-anchor="middle">${esc(label)}</text>`);
  };
  axis(top.y0, top.y1, ticks(yLo, yHi, 8), Y, yu, `offset − (${sign}${grouped(ref)} ns) [${yu.name}]`);
  axis(bot.y0, bot.y1, ticks(0, dCap, 4), D, du, `delay [${du.name}]`);
  o.push(`<text x="${L + pw / 2}" y="${top.y1 + 34}" text-anchor="middle">guest time since the first exchange [${xu.name}]</text>`);
  o.push(`<text x="${L + pw / 2}" y="${bot.y1 + 34}" text-anchor="middle">guest time since the first exchange [${xu.name}]</text>`);

  // Top panel: band, windows, envelope, fit.
  o.push(`<g clip-path="url(#top)">`);
  const band = [...grid.map((g, i) => `${X(g).toFixed(1)},${Y(bandHi[i] as number).toFixed(1)}`), ...[...grid].reverse().map((g, i) => `${X(g).toFixed(1)},${Y(bandLo[grid.length - 1 - i] as number).toFixed(1)}`)];
  o.push(`<polygon points="${band.join(" ")}" fill="#9ecae1" fill-opacity="0.35" stroke="none"/>`);
  for (const s of est.samples) {
    if (s.kept) continue;
    o.push(`<line x1="${X(s.midGuestNs).toFixed(1)}" x2="${X(s.midGuestNs).toFixed(1)}" y1="${Y(rel(s.lowNs)).toFixed(1)}" y2="${Y(rel(s.highNs)).toFixed(1)}" stroke="#c8c8c8" stroke-opacity="0.7" stroke-width="1"/>`);
  }
  for (const s of kept) {
    const x = X(s.midGuestNs).toFixed(1);
    const c = (rel(s.lowNs) + rel(s.highNs)) / 2;
    o.push(`<line x1="${x}" x2="${x}" y1="${Y(rel(s.lowNs)).toFixed(1)}" y2="${Y(rel(s.highNs)).toFixed(1)}" stroke="#e6550d" stroke-width="2"/>`);
    o.push(`<circle cx="${x}" cy="${Y(c).toFixed(1)}" r="3" fill="#e6550d"/>`);
  }
  if (feas.every((f) => f !== null)) {
    const f = feas as Array<{ low: bigint; high: bigint }>;
    o.push(`<polyline points="${grid.map((g, i) => `${X(g).toFixed(1)},${Y(rel((f[i] as { high: bigint }).high)).toFixed(1)}`).join(" ")}" fill="none" stroke="#3182bd" stroke-dasharray="4 3"/>`);
    o.push(`<polyline points="${grid.map((g, i) => `${X(g).toFixed(1)},${Y(rel((f[i] as { low: bigint }).low)).toFixed(1)}`).join(" ")}" fill="none" stroke="#3182bd" stroke-dasharray="4 3"/>`);
  }
  o.push(`<polyline points="${grid.map((g, i) => `${X(g).toFixed(1)},${Y(fit[i] as number).toFixed(1)}`).join(" ")}" fill="none" stroke="#08519c" stroke-width="2"/>`);
  o.push(`</g>`);
  const rx = X(est.referenceGuestNs);
  o.push(`<line x1="${rx.toFixed(1)}" x2="${rx.toFixed(1)}" y1="${top.y0}" y2="${top.y1}" stroke="#08519c" stroke-dasharray="2 4"/>`);

  // Legend.
  const lg = [
    { draw: `<rect width="18" height="10" y="-9" fill="#9ecae1" fill-opacity="0.5"/>`, text: "error bound around the fit" },
    { draw: `<line x1="0" x2="18" y1="-4" y2="-4" stroke="#08519c" stroke-width="2"/>`, text: "fitted offset (drift line)" },
    { draw: `<line x1="0" x2="18" y1="-4" y2="-4" stroke="#3182bd" stroke-dasharray="4 3"/>`, text: "range of lines fitting every window" },
    { draw: `<line x1="9" x2="9" y1="-11" y2="2" stroke="#e6550d" stroke-width="2"/>`, text: "kept exchange: window ±δ/2" },
    { draw: `<line x1="9" x2="9" y1="-11" y2="2" stroke="#bbbbbb"/>`, text: "other exchange" },
  ];
  let lx = L;
  let ly = top.y1 + 60;
  for (const item of lg) {
    const w = 24 + item.text.length * 6.4 + 22;
    if (lx + w > W - R) {
      lx = L;
      ly += 18;
    }
    o.push(`<g transform="translate(${lx},${ly})">${item.draw}<text x="24" y="0">${esc(item.text)}</text></g>`);
    lx += w;
  }

  // Bottom panel: delays.
  o.push(`<g clip-path="url(#bot)">`);
  for (const s of est.samples) {
    const d = Number(s.delayNs);
    o.push(`<circle cx="${X(s.midGuestNs).toFixed(1)}" cy="${D(d).toFixed(1)}" r="${s.kept ? 3 : 1.8}" fill="${s.kept ? "#e6550d" : "#888888"}"${d > dCap ? ' fill-opacity="0.4"' : ""}/>`);
  }
  o.push(`</g>`);
  if (clippedDelays > 0) o.push(`<text x="${L + pw}" y="${bot.y0 - 6}" text-anchor="end" fill="#666">${clippedDelays} delay(s) above ${fmt(dCap / du.ns)} ${du.name} drawn at the top edge</text>`);
  o.push(`<text x="${L}" y="${bot.y0 - 6}" fill="#666">round-trip delay δ = (t3 − t1) − (t2′ − t2); orange: kept</text>`);
  o.push(`</svg>`);
  return `${o.join("\n")}\n`;
}
