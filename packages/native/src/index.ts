/**
 * @packageDocumentation
 * @clocksource/native — optional Node-API counter reader. Loads the compiled
 * addon when it was built; otherwise reports why it is unavailable.
 */
export {};
