/**
 * @packageDocumentation
 * The core of clocksource: clock domains, exact u64 time arithmetic,
 * capability facts with provenance, the system view, injection tokens, the
 * container, the selector and the OS-monotonic backend.
 */
import "reflect-metadata";

export * from "./errors.js";
export * from "./u64.js";
export * from "./u64-limbs.js";
export * from "./decimal.js";
export * from "./mult-shift.js";
export * from "./mult-shift-batch.js";
export { instantiateWasm, runChunked, u64Kernels, u64KernelsStatus, WASM_CHUNK_VALUES, type U64Kernels, type WasmLoad } from "./wasm-u64-kernels.js";
export * from "./wasm-assembler.js";
export * from "./mul-shift-add.js";
export * from "./domains.js";
export * from "./clock-source.js";
export * from "./tick-converter.js";
export * from "./facts.js";
export * from "./fact-names.js";
export * from "./system-view.js";
export * from "./kernel-log.js";
export * from "./backend.js";
export * from "./policy.js";
export * from "./probe.js";
export * from "./tokens.js";
export * from "./prober.js";
export * from "./selector.js";
export * from "./virtualization.js";
export * from "./monotonic-backend.js";
export * from "./container.js";
export * from "./probe-report.js";
export * from "./mapping-file.js";
export * from "./probes/cpuinfo.js";
export * from "./probes/arch-probe.js";
export * from "./probes/kernel-clocksource-probe.js";
export * from "./probes/hypervisor-evidence-probe.js";
