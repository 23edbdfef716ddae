import { ClocksourceError } from "@clocksource/core";

/**
 * One field of an ftrace event, as its `format` file declares it:
 * `field:TYPE NAME[LEN];  offset:N;  size:N;  signed:N;`.
 */
export interface FormatField {
  readonly name: string;
  /** The declared type without the name and array suffix, e.g. `unsigned long`, `__data_loc char[]`. */
  readonly type: string;
  /** Byte offset in the record (from the start of the common fields). */
  readonly offset: number;
  /** Size in the record: of the whole fixed array, 4 for a `__data_loc`/`__rel_loc` word, 0 for a trailing `char x[]`. */
  readonly size: number;
  readonly signed: boolean;
  /**
   * Fixed arrays: the element count (`[16]` → 16); `[]` (a trailing flexible array) → 0;
   * scalars and dynamic arrays → null.
   */
  readonly arrayLength: number | null;
  /** `data_loc` / `rel_loc` for dynamic arrays and strings, whose data lives after the fixed fields. */
  readonly dynamic: "data_loc" | "rel_loc" | null;
  /** Element type of arrays (`char`, `unsigned long`), the type itself for scalars. */
  readonly elementType: string;
  /** Size of one element when known (arrays: from the file's size ÷ length, else from the type). */
  readonly elementSize: number | null;
  /** `char` arrays (fixed, trailing or dynamic) are NUL-terminated strings. */
  readonly isString: boolean;
  /** A `common_*` field (shared header of every event). */
  readonly common: boolean;
}

/** An event's `format` file, parsed. */
export interface EventFormat {
  /** The tracefs system directory (`sched`, `ftrace`, …). */
  readonly system: string;
  readonly name: string;
  readonly id: number;
  readonly commonFields: readonly FormatField[];
  readonly fields: readonly FormatField[];
  /** The `print fmt:` line as text (not interpreted), or null when absent. */
  readonly printFmt: string | null;
  /** The kernel's `long` size these fields assume (8 unless told otherwise). */
  readonly longSize: number;
}

/** Where the ring buffer puts the page timestamp, the commit word and the data (tracefs `events/header_page`). */
export interface PageHeaderLayout {
  readonly timestampOffset: number;
  readonly timestampSize: number;
  readonly commitOffset: number;
  /** The kernel's `long` size: 8 on 64-bit kernels, 4 on 32-bit ones. */
  readonly commitSize: number;
  readonly dataOffset: number;
  /** Bytes of data a page holds (`size:` of the `data` field). */
  readonly dataSize: number;
}

const FIELD_LINE = /^\s*field(?:\s+special)?\s*:(.*)$/;
function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/**
 * Splits a declaration `TYPE NAME`, `TYPE NAME[LEN]` or `__data_loc TYPE[] NAME` into
 * its parts by scanning from the end (no backtracking: format files come from the file).
 */
function splitDecl(decl: string): { type: string; name: string; array: string | undefined } | null {
  let end = decl.length;
  while (end > 0 && decl.charCodeAt(end - 1) <= 32) end--;
  let array: string | undefined;
  if (end > 0 && decl[end - 1] === "]") {
    const open = decl.lastIndexOf("[", end - 1);
    if (open < 0) return null;
    array = decl.slice(open + 1, end - 1);
    end = open;
    while (end > 0 && decl.charCodeAt(end - 1) <= 32) end--;
  }
  let start = end;
  while (start > 0 && isIdentChar(decl.charCodeAt(start - 1))) start--;
  const first = decl.charCodeAt(start);
  if (start === end || (first >= 48 && first <= 57)) return null;
  return { type: decl.slice(0, start).trim(), name: decl.slice(start, end), array };
}

function fail(system: string, what: string, where?: string): never {
  throw new ClocksourceError("INVALID_TRACE", `${where ? where + ": " : ""}event format (${system}): ${what}`);
}

function elementSizeOfType(type: string, longSize: number): number | null {
  if (type.includes("*")) return longSize;
  const t = type
    .replace(/\b(const|volatile|signed|enum)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  switch (t) {
    case "char":
    case "unsigned char":
    case "u8":
    case "s8":
    case "__u8":
    case "__s8":
    case "uint8_t":
    case "int8_t":
    case "bool":
    case "_Bool":
      return 1;
    case "short":
    case "unsigned short":
    case "short int":
    case "u16":
    case "s16":
    case "__u16":
    case "__s16":
    case "__le16":
    case "__be16":
    case "uint16_t":
    case "int16_t":
      return 2;
    case "int":
    case "unsigned":
    case "unsigned int":
    case "u32":
    case "s32":
    case "__u32":
    case "__s32":
    case "__le32":
    case "__be32":
    case "uint32_t":
    case "int32_t":
    case "pid_t":
    case "gfp_t":
    case "uid_t":
    case "gid_t":
      return 4;
    case "long long":
    case "unsigned long long":
    case "long long int":
    case "u64":
    case "s64":
    case "__u64":
    case "__s64":
    case "__le64":
    case "__be64":
    case "uint64_t":
    case "int64_t":
    case "loff_t":
      return 8;
    case "long":
    case "unsigned long":
    case "long int":
    case "size_t":
    case "ssize_t":
      return longSize;
    default:
      return null;
  }
}

function isCharType(type: string): boolean {
  return /^(const\s+)?char$/.test(type.trim());
}

function parseInteger(text: string): number | null {
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) return null;
  const v = Number(t);
  return Number.isSafeInteger(v) ? v : null;
}

/** Parses one `field:` line; returns null for a line that is not a field. */
function parseFieldLine(line: string, system: string, longSize: number, where?: string): FormatField | null {
  const m = FIELD_LINE.exec(line);
  if (!m) return null;
  const parts = (m[1] as string).split(";");
  const decl = (parts[0] as string).trim();
  let offset: number | null = null;
  let size: number | null = null;
  let signed: boolean | null = null;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i] as string;
    const colon = p.indexOf(":");
    if (colon < 0) continue;
    const key = p.slice(0, colon).trim();
    const v = parseInteger(p.slice(colon + 1));
    if (key === "offset") offset = v;
    else if (key === "size") size = v;
    else if (key === "signed") signed = v === null ? null : v !== 0;
  }
  const d = splitDecl(decl);
  if (!d || offset === null || size === null) fail(system, `field line does not parse: ${JSON.stringify(line.trim())}`, where);
  const name = d.name;
  const typeText = d.type;
  const arrayText = d.array;
  if (typeText === "") fail(system, `field ${name} has no type`, where);
  let dynamic: "data_loc" | "rel_loc" | null = null;
  let elementType = typeText;
  if (/^__data_loc\b/.test(typeText)) dynamic = "data_loc";
  else if (/^__rel_loc\b/.test(typeText)) dynamic = "rel_loc";
  if (dynamic) elementType = typeText.replace(/^__(data|rel)_loc\s*/, "").replace(/\s*\[\s*\]\s*$/, "").trim();
  let arrayLength: number | null = null;
  let elementSize: number | null;
  if (dynamic) {
    elementSize = elementSizeOfType(elementType, longSize);
    if (size !== 4) fail(system, `dynamic field ${name} has size ${size}, expected 4`, where);
  } else if (arrayText !== undefined) {
    if (arrayText.trim() === "") {
      arrayLength = 0;
      elementSize = elementSizeOfType(elementType, longSize);
    } else {
      const n = parseInteger(arrayText);
      // A length the kernel left as an expression: take the element size from the type.
      const typeSize = elementSizeOfType(elementType, longSize);
      if (n !== null && n > 0 && size % n === 0) {
        arrayLength = n;
        elementSize = size / n;
      } else if (typeSize !== null && size % typeSize === 0) {
        arrayLength = size / typeSize;
        elementSize = typeSize;
      } else {
        arrayLength = n ?? 0;
        elementSize = null;
      }
    }
  } else {
    elementSize = size;
  }
  const isArray = dynamic !== null || arrayLength !== null;
  return {
    name,
    type: typeText,
    offset,
    size,
    signed: signed ?? /^(s\d+|__s\d+|int|long|short|char|pid_t|int\d+_t|long long|ssize_t|loff_t)$/.test(elementType.replace(/\bconst\s+/, "").trim()),
    arrayLength,
    dynamic,
    elementType,
    elementSize,
    isString: isArray && isCharType(elementType),
    common: name.startsWith("common_"),
  };
}

/**
 * Parses an event `format` file (tracefs `events/<system>/<event>/format`, as
 * stored in trace.dat and in perf's tracing data).
 *
 * @param longSize the kernel's `long` size, for dynamic arrays of longs (default 8)
 * @param where names the source in error messages (file and offset)
 * @throws ClocksourceError `INVALID_TRACE` when the name, the ID or a field line does not parse
 */
export function parseEventFormat(text: string, system: string, longSize = 8, where?: string): EventFormat {
  let name: string | null = null;
  let id: number | null = null;
  let printFmt: string | null = null;
  const commonFields: FormatField[] = [];
  const fields: FormatField[] = [];
  let inFormat = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith("name:")) {
      name = line.slice(5).trim();
      continue;
    }
    if (line.startsWith("ID:")) {
      id = parseInteger(line.slice(3));
      if (id === null) fail(system, `bad ID line ${JSON.stringify(line)}`, where);
      continue;
    }
    if (line.startsWith("format:")) {
      inFormat = true;
      continue;
    }
    if (line.startsWith("print fmt:")) {
      printFmt = lines.slice(i).join("\n").slice(10).trim();
      break;
    }
    if (!inFormat) continue;
    if (line.trim() === "") continue;
    const f = parseFieldLine(line, system, longSize, where);
    if (!f) fail(system, `unexpected line in format: ${JSON.stringify(line.slice(0, 80))}`, where);
    if (f.common) commonFields.push(f);
    else fields.push(f);
  }
  if (name === null || name === "") fail(system, "no name: line", where);
  if (id === null) fail(system, `event ${name} has no ID: line`, where);
  if (!inFormat) fail(system, `event ${name} has no format: section`, where);
  return { system, name, id, commonFields, fields, printFmt, longSize };
}

/**
 * Parses tracefs `events/header_page`: the ring-buffer page header layout.
 * Falls back to the layout every kernel since 2.6.31 uses for the given `long`
 * size when a field is missing, and says so through `fallbacks`.
 */
export function parseHeaderPage(text: string, longSize: number): PageHeaderLayout & { readonly fallbacks: readonly string[] } {
  const byName = new Map<string, { offset: number; size: number }>();
  for (const line of text.split("\n")) {
    const m = /field:\s*(.*?)\s*;\s*offset:\s*(\d+)\s*;\s*size:\s*(\d+)\s*;/.exec(line);
    if (!m) continue;
    const d = splitDecl((m[1] as string).trim());
    if (!d) continue;
    const nm = d.name;
    if (!byName.has(nm)) byName.set(nm, { offset: Number(m[2]), size: Number(m[3]) });
  }
  const fallbacks: string[] = [];
  const ts = byName.get("timestamp");
  const commit = byName.get("commit");
  const data = byName.get("data");
  if (!ts) fallbacks.push("timestamp");
  if (!commit) fallbacks.push("commit");
  if (!data) fallbacks.push("data");
  const commitSize = commit?.size === 4 || commit?.size === 8 ? commit.size : longSize;
  const dataOffset = data?.offset ?? 8 + commitSize;
  return {
    timestampOffset: ts?.offset ?? 0,
    timestampSize: ts?.size ?? 8,
    commitOffset: commit?.offset ?? 8,
    commitSize,
    dataOffset,
    dataSize: data?.size ?? 4096 - dataOffset,
    fallbacks,
  };
}
