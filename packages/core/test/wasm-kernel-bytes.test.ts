import { describe, expect, it } from "vitest";
import { KERNEL_MODULE } from "../src/math/wasm-kernel-bytes.js";
import { assembleKernelModule } from "../src/math/wasm-kernel-module.js";
import { u64KernelsStatus } from "../src/index.js";

describe("the kernel module's bytes", () => {
  it.each([["with SIMD", true], ["scalar", false]] as const)("%s: what the kernel source assembles (else run `node scripts/gen-wasm-kernels.mjs`)", (_name, simd) => {
    const fresh = Buffer.from(assembleKernelModule(simd)).toString("base64");
    expect(KERNEL_MODULE[simd ? "simd" : "scalar"] === fresh, "wasm-kernel-bytes.ts is stale: run `npx tsc -b && node scripts/gen-wasm-kernels.mjs`").toBe(true);
  });

  it("load here (WebAssembly is available to this test run)", () => {
    const s = u64KernelsStatus();
    expect(s.ok ? "loaded" : s.reason).toBe("loaded");
  });
});
