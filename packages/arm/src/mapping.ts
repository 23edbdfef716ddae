/**
 * @packageDocumentation
 * `@clocksource/arm/mapping`: the exact CNTVOFF mapping and its mapping-file
 * codec — only what converting time needs, so a converter loads neither the
 * probes nor the native counter reader.
 */
export * from "./cntvoff-mapping.js";
