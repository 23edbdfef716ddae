import { afterAll, beforeAll, describe } from "vitest";
import { batchNativeReason, setNativeBatch } from "../../src/index.js";

/** Whether the native addon's batch loops run here (else only WebAssembly's kernels are tested). */
export const NATIVE_BATCH = batchNativeReason() === null;

/**
 * `describe` once per batch backend this machine has — the native addon's loops
 * (`native true`), then WebAssembly's kernels (`native false`) — with the
 * backend switched for the block and restored after it. `%s` in the title
 * names which.
 */
export function describeEachBatchBackend(title: string, body: (native: boolean) => void): void {
  if (!NATIVE_BATCH) console.warn(`${title.replace(" (native %s)", "")}: WebAssembly only here: ${batchNativeReason()}`);
  describe.each(NATIVE_BATCH ? [true, false] : [false])(title, (native) => {
    let was = true;
    beforeAll(() => {
      was = setNativeBatch(native);
    });
    afterAll(() => {
      setNativeBatch(was);
    });
    body(native);
  });
}
