import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DirectorySystemView } from "@clocksource/core";
import { FIXTURES_DIR } from "../../../../test/support/fixtures.js";
import { scratchDirs } from "../../../../test/support/hostile-tree.js";
import { findNodeByCompatible, parseDts, writeSysfsTree, type DtsNode } from "./dts.js";

export const DT_SOURCES = join(FIXTURES_DIR, "devicetree-sources");

// Removed after the test file that imports this module (each file has its own copy of it).
const tempDir = scratchDirs();

/** A fresh temporary system root, removed after the test file. */
export function tempRoot(prefix = "cs-arm-"): string {
  return tempDir(prefix);
}

/** Writes plain files (text or bytes) under a root. */
export function writeFiles(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), content);
  }
}

/**
 * Builds a system root whose device tree holds the architected-timer node of
 * a kernel `.dtsi` file (the first node compatible with `compatible`), placed
 * at `nodePath` (default `/timer`), plus the file's root `compatible`.
 */
export function rootWithTimerFrom(sourceFile: string, compatible: string, nodePath = "/timer"): { root: string; node: DtsNode; view: DirectorySystemView } {
  const { root: tree } = parseDts(readFileSync(join(DT_SOURCES, sourceFile), "utf8"));
  const node = findNodeByCompatible(tree, compatible);
  if (!node) throw new Error(`${sourceFile}: no node compatible with ${compatible}`);
  const root = tempRoot();
  const base = join(root, "sys/firmware/devicetree/base");
  mkdirSync(base, { recursive: true });
  const rootCompat = tree.properties.get("compatible");
  if (rootCompat) writeFileSync(join(base, "compatible"), rootCompat);
  writeSysfsTree({ ...node, name: nodePath.split("/").pop() as string }, join(base, nodePath));
  return { root, node, view: new DirectorySystemView(root, false) };
}

/** Builds a system root holding a whole decompiled device tree. */
export function rootWithWholeTree(sourceFile: string): { root: string; view: DirectorySystemView; tree: DtsNode } {
  const { root: tree } = parseDts(readFileSync(join(DT_SOURCES, sourceFile), "utf8"));
  const root = tempRoot();
  writeSysfsTree(tree, join(root, "sys/firmware/devicetree/base"));
  return { root, view: new DirectorySystemView(root, false), tree };
}
