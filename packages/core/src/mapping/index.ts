/**
 * @packageDocumentation
 * `@clocksource/core/mapping`: mapping files, exact u64 arithmetic, the batch
 * converter and the streaming converter — without the DI container, the
 * probes or `reflect-metadata`, so that a program that only converts time
 * (and the mapping codecs it loads) starts fast. Everything here is also
 * exported by `@clocksource/core`; both entry points share one instance of
 * each module.
 */
export * from "../errors.js";
export * from "../domains.js";
export * from "../math/u64.js";
export * from "../math/mul-shift-add.js";
export { allocU64Batch, inKernelMemory, KERNEL_ARRAY_MAX } from "../math/kernel-memory.js";
export { u64KernelsStatus, type U64Kernels, type WasmLoad } from "../math/wasm-u64-kernels.js";
export { applyBatchOp, checkBatchOp, type BatchMapping, type BatchOp } from "../math/batch-ops.js";
export * from "./mapping-file.js";
export { batchConverter, type BatchConverter } from "./batch-mapping.js";
export * from "./convert-stream.js";
export * from "./clock-pairs-codec.js";
export * from "../io/read-user-file.js";
export { describeErrno } from "../io/errno.js";
