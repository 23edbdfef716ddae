import { describe, expect, it } from "vitest";
import { ClocksourceError, isClocksourceError } from "../src/errors.js";

describe("isClocksourceError", () => {
  it("knows its own errors and their codes", () => {
    const e = new ClocksourceError("IO_ERROR", "x");
    expect(isClocksourceError(e)).toBe(true);
    expect(isClocksourceError(e, "IO_ERROR")).toBe(true);
    expect(isClocksourceError(e, "TIMEOUT")).toBe(false);
  });

  it("knows one made by another copy of the package (a plugin's own @clocksource/core under the bundled CLI)", () => {
    // Another copy: a different class whose prototype carries the same registered brand.
    class OtherCopy extends Error {
      readonly code = "TIMEOUT";
    }
    Object.defineProperty(OtherCopy.prototype, Symbol.for("@clocksource/core.ClocksourceError"), { value: true });
    const e = new OtherCopy("late");
    expect(e instanceof ClocksourceError).toBe(false);
    expect(isClocksourceError(e)).toBe(true);
    expect(isClocksourceError(e, "TIMEOUT")).toBe(true);
    expect(isClocksourceError(e, "IO_ERROR")).toBe(false);
  });

  it("does not take an ordinary error with a code for one", () => {
    expect(isClocksourceError(Object.assign(new Error("x"), { code: "IO_ERROR" }))).toBe(false);
    expect(isClocksourceError({ code: "IO_ERROR" })).toBe(false);
    expect(isClocksourceError(null)).toBe(false);
    expect(isClocksourceError("IO_ERROR")).toBe(false);
  });
});
