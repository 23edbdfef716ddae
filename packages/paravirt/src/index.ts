/**
 * @packageDocumentation
 * @clocksource/paravirt — the paravirtual fallback: a host agent and a guest
 * client speaking a small binary protocol over any byte stream (Unix socket,
 * TCP, virtio-serial), a minimum-delay estimator of the guest → host offset
 * and drift with an error bound that holds, the `paravirt` backend, and a
 * probe for paravirtual time devices. See docs/paravirt.md and docs/protocol.md.
 */
import "reflect-metadata";
import { Lifecycle, type DependencyContainer } from "tsyringe";
import { CAPABILITY_PROBE, CLOCK_BACKEND } from "@clocksource/core";
import { ParavirtBackend } from "./backend.js";
import { ParavirtDeviceProbe } from "./device-probe.js";

export * from "./protocol/frame.js";
export * from "./protocol/decoder.js";
export * from "./protocol/messages.js";
export * from "./auth.js";
export * from "./endpoint.js";
export * from "./transport.js";
export * from "./host-clock.js";
export * from "./agent.js";
export * from "./admission.js";
export * from "./log-limiter.js";
export * from "./unix-socket-file.js";
export { AgentSession, type SessionConfig } from "./agent-session.js";
export * from "./client.js";
export * from "./estimator.js";
export * from "./mapping-codec.js";
export * from "./sync-session.js";
export * from "./sync-plot.js";
export * from "./backend.js";
export * from "./device-probe.js";

/** Registers this package's probe and backend in `container` (never the global one). */
export function register(container: DependencyContainer): void {
  container.register(CAPABILITY_PROBE, { useClass: ParavirtDeviceProbe });
  container.register(CLOCK_BACKEND, { useClass: ParavirtBackend }, { lifecycle: Lifecycle.ContainerScoped });
}
