/**
 * @packageDocumentation
 * `@clocksource/paravirt/mapping`: the paravirtual estimate's mapping-file
 * codec — only what converting time needs, so a converter loads neither the
 * agent, the client nor the transports.
 */
export * from "./mapping-codec.js";
