import { CLOCK_BACKEND, SYSTEM_VIEW } from "@clocksource/core";
import type { DependencyContainer } from "tsyringe";
import { MicrosecondBackend } from "./microsecond-backend.js";

/**
 * The backend as a plugin of the `clocksource` command:
 *   clocksource probe --plugin ./dist/plugin.js
 * A factory, so it works whichever copy of tsyringe the command line uses.
 */
export function register(container: DependencyContainer): void {
  container.register(CLOCK_BACKEND, { useFactory: (c) => new MicrosecondBackend(c.resolve(SYSTEM_VIEW)) });
}
