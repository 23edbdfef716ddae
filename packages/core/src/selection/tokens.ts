import type { InjectionToken } from "tsyringe";
import type { ClockBackend } from "./backend.js";
import type { CapabilityProbe } from "../probing/probe.js";
import type { SystemView } from "../probing/system-view.js";
import type { SelectionPolicy } from "./policy.js";

/** Register each backend under this token (many registrations; order breaks rating ties). */
export const CLOCK_BACKEND: InjectionToken<ClockBackend> = Symbol.for("clocksource.ClockBackend");
/** Register each capability probe under this token (run in registration order). */
export const CAPABILITY_PROBE: InjectionToken<CapabilityProbe> = Symbol.for("clocksource.CapabilityProbe");
/** The machine being probed. */
export const SYSTEM_VIEW: InjectionToken<SystemView> = Symbol.for("clocksource.SystemView");
/** The user's selection policy. */
export const SELECTION_POLICY: InjectionToken<SelectionPolicy> = Symbol.for("clocksource.SelectionPolicy");
