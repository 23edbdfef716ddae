/**
 * Test support: turns device-tree *source* text into the sysfs layout Linux
 * exposes (`sys/firmware/devicetree/base/...`), writing each property as the
 * binary file the kernel would show: strings NUL-terminated, cells big-endian
 * u32, byte strings raw, booleans zero-length.
 *
 * It reads the subset of DTS the fixtures use: nodes with optional labels,
 * `name = "a", "b";`, `name = <cells>, <cells>;`, `name = [bytes];`, boolean
 * `name;`, comments, and phandle references `<&label>` (resolved to the
 * labelled node's `phandle` when it has one, else 0). Kernel-tree `.dtsi`
 * files use preprocessor macros in cells (`GIC_PPI`, `IRQ_TYPE_LEVEL_LOW`);
 * a property whose cells are not all numbers is left out and reported in
 * `skipped`, since the timer properties under test never need them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface DtsNode {
  name: string;
  labels: string[];
  properties: Map<string, Uint8Array>;
  children: DtsNode[];
  /** Properties whose value could not be evaluated without the C preprocessor. */
  skipped: string[];
}

type Token = { t: "word" | "string" | "punct" | "cells" | "bytes"; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (src.startsWith("//", i)) {
      i = src.indexOf("\n", i);
      if (i < 0) break;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let s = "";
      while (j < src.length && src[j] !== '"') {
        if (src[j] === "\\") {
          const n = src[j + 1];
          s += n === "n" ? "\n" : n === "t" ? "\t" : n === "0" ? "\0" : (n ?? "");
          j += 2;
        } else s += src[j++];
      }
      out.push({ t: "string", v: s });
      i = j + 1;
    } else if (c === "<") {
      // Cell lists may nest parentheses; they end at the matching '>'.
      let depth = 0;
      let j = i + 1;
      for (; j < src.length; j++) {
        if (src[j] === "(") depth++;
        else if (src[j] === ")") depth--;
        else if (src[j] === ">" && depth === 0) break;
      }
      out.push({ t: "cells", v: src.slice(i + 1, j) });
      i = j + 1;
    } else if (c === "[") {
      const j = src.indexOf("]", i);
      out.push({ t: "bytes", v: src.slice(i + 1, j) });
      i = j + 1;
    } else if ("{};=,:".includes(c)) {
      out.push({ t: "punct", v: c });
      i++;
    } else {
      // Commas are part of names (`fsl,erratum-a008585`); a comma on its own separates values.
      let j = i;
      while (j < src.length && !/[\s{};=<"[\]:]/.test(src[j] as string)) j++;
      if (j === i) j++;
      out.push({ t: "word", v: src.slice(i, j) });
      i = j;
    }
  }
  return out;
}

function stringBytes(parts: string[]): Uint8Array {
  return new TextEncoder().encode(parts.map((p) => `${p}\0`).join(""));
}

function cellBytes(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, k) => dv.setUint32(k * 4, v >>> 0, false));
  return b;
}

interface Ref {
  readonly label: string;
  readonly offset: number;
}

/** Parses DTS text into a node tree (the root is the node named `/`, or a synthetic one). */
export function parseDts(src: string): { root: DtsNode; labels: Map<string, DtsNode> } {
  const tokens = tokenize(src);
  const labels = new Map<string, DtsNode>();
  const refs: { node: DtsNode; prop: string; refs: Ref[] }[] = [];
  let p = 0;
  const peek = () => tokens[p];
  const next = () => tokens[p++] as Token;

  function parseBody(node: DtsNode): void {
    while (p < tokens.length && !(peek()?.t === "punct" && peek()?.v === "}")) {
      const tok = next();
      if (tok.t === "punct" && tok.v === ";") continue;
      if (tok.t !== "word") continue;
      if (/^\/[a-z-]+\/$/.test(tok.v)) {
        // Directives (/delete-node/, /dts-v1/ …) up to the next ';'.
        while (p < tokens.length && !(peek()?.t === "punct" && peek()?.v === ";")) next();
        continue;
      }
      const nodeLabels: string[] = [];
      let name = tok.v;
      while (peek()?.t === "punct" && peek()?.v === ":") {
        next();
        nodeLabels.push(name);
        name = next().v;
      }
      const after = peek();
      if (after?.t === "punct" && after.v === "{") {
        next();
        const child: DtsNode = { name, labels: nodeLabels, properties: new Map(), children: [], skipped: [] };
        for (const l of nodeLabels) labels.set(l, child);
        parseBody(child);
        next(); // }
        node.children.push(child);
      } else if (after?.t === "punct" && after.v === "=") {
        next();
        const strings: string[] = [];
        const chunks: Uint8Array[] = [];
        const propRefs: Ref[] = [];
        let ok = true;
        let offset = 0;
        while (p < tokens.length && !(peek()?.t === "punct" && peek()?.v === ";")) {
          const v = next();
          if (v.t === "string") {
            strings.push(v.v);
            const b = stringBytes([v.v]);
            chunks.push(b);
            offset += b.length;
          } else if (v.t === "cells") {
            const words = v.v.trim().split(/\s+/).filter((w) => w.length > 0);
            const cells: number[] = [];
            for (const w of words) {
              if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(w)) cells.push(Number(w));
              else if (w.startsWith("&")) {
                propRefs.push({ label: w.slice(1), offset: offset + cells.length * 4 });
                cells.push(0);
              } else ok = false;
            }
            const b = cellBytes(cells);
            chunks.push(b);
            offset += b.length;
          } else if (v.t === "bytes") {
            const b = Uint8Array.from(v.v.trim().split(/\s+/).filter((x) => x).map((x) => parseInt(x, 16)));
            chunks.push(b);
            offset += b.length;
          } else if (v.t === "word" && v.v.startsWith("&")) {
            // A path reference as a string: not needed here.
            ok = false;
          }
        }
        next(); // ;
        if (!ok) {
          node.skipped.push(name);
          continue;
        }
        const total = chunks.reduce((n, c) => n + c.length, 0);
        const bytes = new Uint8Array(total);
        let o = 0;
        for (const c of chunks) {
          bytes.set(c, o);
          o += c.length;
        }
        node.properties.set(name, bytes);
        if (propRefs.length) refs.push({ node, prop: name, refs: propRefs });
      } else {
        // Boolean property.
        node.properties.set(name, new Uint8Array(0));
      }
    }
  }

  const top: DtsNode = { name: "", labels: [], properties: new Map(), children: [], skipped: [] };
  parseBody(top);
  for (const r of refs) {
    const bytes = r.node.properties.get(r.prop) as Uint8Array;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const ref of r.refs) {
      const target = labels.get(ref.label)?.properties.get("phandle");
      dv.setUint32(ref.offset, target && target.length === 4 ? new DataView(target.buffer, target.byteOffset, 4).getUint32(0, false) : 0, false);
    }
  }
  const root = top.children.find((c) => c.name === "/") ?? top;
  return { root, labels };
}

/** Finds the first node (depth-first) whose `compatible` lists `compatible`. */
export function findNodeByCompatible(node: DtsNode, compatible: string): DtsNode | undefined {
  const c = node.properties.get("compatible");
  if (c && new TextDecoder().decode(c).split("\0").includes(compatible)) return node;
  for (const child of node.children) {
    const hit = findNodeByCompatible(child, compatible);
    if (hit) return hit;
  }
  return undefined;
}

/** Writes a node (and its subtree) as sysfs device-tree files under `dir`. */
export function writeSysfsTree(node: DtsNode, dir: string): void {
  mkdirSync(dir, { recursive: true });
  // Linux always exposes a node's name as a property (NUL-terminated, without the unit address).
  if (!node.properties.has("name")) writeFileSync(join(dir, "name"), stringBytes([node.name === "/" || node.name === "" ? "" : (node.name.split("@")[0] as string)]));
  for (const [name, bytes] of node.properties) writeFileSync(join(dir, name), bytes);
  for (const child of node.children) writeSysfsTree(child, join(dir, child.name));
}

/** The bytes a property would have, for building nodes by hand in tests. */
export const dtBytes = { strings: stringBytes, cells: cellBytes };
