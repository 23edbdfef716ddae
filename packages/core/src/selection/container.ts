import { container as globalContainer, Lifecycle, type DependencyContainer } from "tsyringe";
import { OsMonotonicBackend } from "./monotonic-backend.js";
import { mergePolicies, policyFromEnv, type SelectionPolicy } from "./policy.js";
import { ArchProbe } from "../probing/probes/arch-probe.js";
import { HypervisorEvidenceProbe, KvmHostProbe } from "../probing/probes/hypervisor-evidence-probe.js";
import { KernelClocksourceProbe } from "../probing/probes/kernel-clocksource-probe.js";
import { CapabilityProber } from "../probing/prober.js";
import { ClockSelector } from "./selector.js";
import { DirectorySystemView, type SystemView } from "../probing/system-view.js";
import { CAPABILITY_PROBE, CLOCK_BACKEND, SELECTION_POLICY, SYSTEM_VIEW } from "./tokens.js";

export interface ClockContainerOptions {
  /** Root directory to probe: `/` (default) for this machine, or a snapshot. Ignored when `view` is given. */
  readonly sysroot?: string;
  /** A ready system view (tests, custom sources). */
  readonly view?: SystemView;
  /** Selection policy; merged over the environment's (`CLOCKSOURCE_*`), which it overrides. */
  readonly policy?: SelectionPolicy;
  /** Environment to read the policy from; default `process.env`. Pass `{}` to ignore it. */
  readonly env?: Record<string, string | undefined>;
  /** Parent container; default a child of tsyringe's global container (which is never modified). */
  readonly parent?: DependencyContainer;
}

/**
 * Creates a container holding the system view, the policy, the generic probes
 * and the always-available OS monotonic backend. Architecture packages add
 * theirs with their `register(container)`; users add a backend with
 * `container.register(CLOCK_BACKEND, { useClass: MyBackend })`.
 * Resolve {@link ClockSelector} from it to choose a clock.
 *
 * @throws ClocksourceError `SYSROOT_INVALID` when `sysroot` is not a readable directory
 */
export function createClockContainer(options: ClockContainerOptions = {}): DependencyContainer {
  const view = options.view ?? DirectorySystemView.open(options.sysroot ?? "/");
  const policy = mergePolicies(policyFromEnv(options.env ?? process.env), options.policy ?? {});
  const c = (options.parent ?? globalContainer).createChildContainer();
  c.register(SYSTEM_VIEW, { useValue: view });
  c.register(SELECTION_POLICY, { useValue: policy });
  c.register(CAPABILITY_PROBE, { useClass: ArchProbe });
  c.register(CAPABILITY_PROBE, { useClass: KernelClocksourceProbe });
  c.register(CAPABILITY_PROBE, { useClass: HypervisorEvidenceProbe });
  c.register(CAPABILITY_PROBE, { useClass: KvmHostProbe });
  c.register(CLOCK_BACKEND, { useClass: OsMonotonicBackend }, { lifecycle: Lifecycle.ContainerScoped });
  c.register(CapabilityProber, { useClass: CapabilityProber }, { lifecycle: Lifecycle.ContainerScoped });
  c.register(ClockSelector, { useClass: ClockSelector }, { lifecycle: Lifecycle.ContainerScoped });
  return c;
}
