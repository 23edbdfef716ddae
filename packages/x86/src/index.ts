/**
 * @packageDocumentation
 * @clocksource/x86 — CPUID (device and dumps), `/proc/cpuinfo` flags and the
 * kernel log: invariant TSC, TSC frequency, hypervisor; the x86 TSC backend;
 * exact KVM TSC offset/scaling mappings and their mapping-file codec.
 */
import "reflect-metadata";
import { CAPABILITY_PROBE, CLOCK_BACKEND } from "@clocksource/core";
import type { DependencyContainer } from "tsyringe";
import { CpuidProbe } from "./cpuid-probe.js";
import { CpuinfoTscProbe } from "./cpuinfo-tsc-probe.js";
import { TscKernelLogProbe } from "./tsc-log-probe.js";
import { TscReaderProbe } from "./tsc-reader-probe.js";
import { KvmHostTscProbe } from "./kvm-host-probe.js";
import { X86TscBackend } from "./tsc-backend.js";

export * from "./x86-facts.js";
export * from "./cpuid-dump.js";
export * from "./cpuid-source.js";
export * from "./cpuid-decode.js";
export * from "./cpuid-probe.js";
export * from "./cpuinfo-tsc-probe.js";
export * from "./tsc-log-probe.js";
export * from "./tsc-calibration.js";
export * from "./tsc-reader-probe.js";
export * from "./tsc-backend.js";
export * from "./native-reader.js";
export * from "./kvm-tsc-mapping.js";
export * from "./kvm-tsc-codec.js";
export * from "./kvm-tsc-batch.js";
export * from "./kvm-debugfs.js";
export * from "./kvm-tsc-epochs.js";
export * from "./kvm-modules.js";
export * from "./kvm-hw-tsc.js";
export * from "./kvm-host-vms.js";
export * from "./kvm-host-probe.js";


/** Registers this package's probes and backends in `container` (never the global one). */
export function register(container: DependencyContainer): void {
  container.register(CAPABILITY_PROBE, { useClass: CpuidProbe });
  container.register(CAPABILITY_PROBE, { useClass: CpuinfoTscProbe });
  container.register(CAPABILITY_PROBE, { useClass: TscKernelLogProbe });
  container.register(CAPABILITY_PROBE, { useClass: TscReaderProbe });
  container.register(CAPABILITY_PROBE, { useClass: KvmHostTscProbe });
  container.register(CLOCK_BACKEND, { useClass: X86TscBackend });
}
