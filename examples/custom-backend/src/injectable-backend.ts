import { inject, injectable } from "tsyringe";
import { SYSTEM_VIEW, type SystemView } from "@clocksource/core";
import { MicrosecondBackend } from "./microsecond-backend.js";

/**
 * The same backend, registered by class: tsyringe builds it and injects the
 * constructor's parameters. Needs "experimentalDecorators": true in tsconfig.
 */
@injectable()
export class InjectableMicrosecondBackend extends MicrosecondBackend {
  constructor(@inject(SYSTEM_VIEW) view: SystemView) {
    super(view);
  }
}
