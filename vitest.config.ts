import { defineConfig } from "vitest/config";
import { defaultServerConditions } from "vite";

// Workspace packages resolve to their TypeScript sources through the
// "@clocksource/source" export condition, so tests need no prior build.
// Decorator metadata (tsyringe injection by type) needs Oxc's legacy decorators.
const packages = ["core", "native", "x86", "arm", "paravirt", "trace", "cli"];

export default defineConfig({
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  ssr: { resolve: { conditions: ["@clocksource/source", ...defaultServerConditions] } },
  test: {
    setupFiles: ["reflect-metadata"],
    testTimeout: 30_000,
    projects: [
      ...packages.map((name) => ({ extends: true as const, test: { name, root: `packages/${name}`, include: ["test/**/*.test.ts"] } })),
      { extends: true as const, test: { name: "integration", root: "test", include: ["**/*.test.ts"] } },
    ],
  },
});
