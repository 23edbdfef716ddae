/** Where tracefs is mounted. */
export declare const TRACEFS: string;
/** `trace-cmd extract` of our own instances into `out` (see tracefs-instances.mjs). */
export declare function extractInstances(names: readonly string[], out: string, scratch: string, extraMounts?: readonly string[]): void;
/** Stops and removes an instance; throws when it cannot be removed. */
export declare function removeInstance(dir: string): void;
