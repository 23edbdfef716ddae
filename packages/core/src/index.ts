/**
 * @packageDocumentation
 * The core of clocksource: clock domains, exact u64 time arithmetic,
 * capability facts with provenance, the system view, injection tokens, the
 * container, the selector and the OS-monotonic backend.
 */
import "reflect-metadata";

export * from "./errors.js";
export * from "./math/u64.js";
export * from "./math/u64-limbs.js";
export * from "./math/decimal.js";
export * from "./math/mult-shift.js";
export * from "./math/mult-shift-batch.js";
export { instantiateWasmBytes, runChunked, u64Kernels, u64KernelsStatus, WASM_CHUNK_VALUES, type U64Kernels, type WasmLoad } from "./math/wasm-u64-kernels.js";
export { instantiateWasm } from "./math/wasm-kernel-module.js";
export * from "./math/wasm-assembler.js";
export * from "./math/mul-shift-add.js";
export { allocU64Batch, inKernelMemory, KERNEL_ARRAY_MAX } from "./math/kernel-memory.js";
export * from "./domains.js";
export * from "./clock-source.js";
export * from "./math/tick-converter.js";
export * from "./probing/facts.js";
export * from "./probing/fact-names.js";
export * from "./probing/system-view.js";
export * from "./probing/kernel-log.js";
export * from "./selection/backend.js";
export * from "./selection/policy.js";
export * from "./probing/probe.js";
export * from "./selection/tokens.js";
export * from "./probing/prober.js";
export * from "./selection/selector.js";
export * from "./probing/virtualization.js";
export * from "./selection/monotonic-backend.js";
export * from "./selection/container.js";
export * from "./probing/probe-report.js";
export * from "./mapping/mapping-file.js";
export * from "./mapping/convert-stream.js";
export { batchConverter, type BatchConverter } from "./mapping/batch-mapping.js";
export { applyBatchOp, checkBatchOp, type BatchMapping, type BatchOp } from "./math/batch-ops.js";
export * from "./io/file-kind.js";
export * from "./io/read-user-file.js";
export * from "./io/write-user-file.js";
export * from "./io/write-all.js";
export * from "./mapping/domain-graph.js";
export * from "./mapping/mapping-edges.js";
export * from "./mapping/clock-pairs-codec.js";
export * from "./probing/probes/cpuinfo.js";
export * from "./probing/probes/arch-probe.js";
export * from "./probing/probes/kernel-clocksource-probe.js";
export * from "./probing/probes/hypervisor-evidence-probe.js";
