/**
 * @packageDocumentation
 * `@clocksource/x86/mapping`: the exact KVM TSC mapping, its batch form and
 * its mapping-file codec — only what converting time needs, so a converter
 * loads neither the probes nor the native counter reader.
 */
export * from "./kvm-tsc-mapping.js";
export * from "./kvm-tsc-codec.js";
export * from "./kvm-tsc-batch.js";
