import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** `../shared/fixtures` beside the repository (absent outside this organisation). */
export const FIXTURES_DIR = resolve(REPO_ROOT, "../shared/fixtures");
export const MACHINES_DIR = join(FIXTURES_DIR, "machines");

/** True when the shared fixtures are present; tests use it with `describe.skipIf`. */
export const HAVE_FIXTURES = existsSync(MACHINES_DIR);

/** Why fixture tests are skipped, printed once by the suites that need them. */
export const FIXTURES_SKIP_MESSAGE = `skipping fixture tests: ${MACHINES_DIR} is absent (the shared fixtures live beside the repository as ../shared/fixtures)`;

/** Every machine folder name under `../shared/fixtures/machines`, sorted; empty when absent. */
export function fixtureMachines(): string[] {
  if (!HAVE_FIXTURES) return [];
  return readdirSync(MACHINES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/** The absolute path of one machine folder. */
export function machineRoot(name: string): string {
  return join(MACHINES_DIR, name);
}

/** Logs the skip message when fixtures are absent (call at module top level of a fixture suite). */
export function announceFixtureSkip(): void {
  if (!HAVE_FIXTURES) console.warn(FIXTURES_SKIP_MESSAGE);
}
