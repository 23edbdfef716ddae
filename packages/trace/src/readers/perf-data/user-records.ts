/**
 * Records perf itself writes into the stream that describe the recording
 * rather than events: HEADER_ATTR, HEADER_FEATURE, EVENT_UPDATE (pipe mode
 * carries the header this way) and TIME_CONV.
 */
import type { PerfTimeConv } from "../../model/event.js";
import { parseAttr, type PerfAttr } from "./attr.js";

/** HEADER_ATTR: a `perf_event_attr` (its own `size` long) and the ids after it. */
export function parseHeaderAttr(view: DataView, pos: number, size: number, le: boolean): { attr: PerfAttr; ids: bigint[] } | string {
  if (size < 8 + 64) return `HEADER_ATTR of ${size} bytes is too short`;
  const attrSize = view.getUint32(pos + 12, le);
  if (attrSize < 64 || 8 + attrSize > size) return `HEADER_ATTR attr size ${attrSize} does not fit its ${size}-byte record`;
  const attr = parseAttr(view, pos + 8, attrSize, le);
  if (attr === null) return "HEADER_ATTR attr too short";
  const ids: bigint[] = [];
  for (let o = pos + 8 + attrSize; o + 8 <= pos + size; o += 8) ids.push(view.getBigUint64(o, le));
  return { attr, ids };
}

/** EVENT_UPDATE of type NAME (2): the event id and its name. Other update types are not needed here. */
export function parseEventUpdateName(view: DataView, bytes: Uint8Array, pos: number, size: number, le: boolean): { id: bigint; name: string } | null {
  if (size < 24 || view.getBigUint64(pos + 8, le) !== 2n) return null;
  const id = view.getBigUint64(pos + 16, le);
  let e = pos + 24;
  while (e < pos + size && bytes[e] !== 0) e++;
  return { id, name: Buffer.from(bytes.buffer, bytes.byteOffset + pos + 24, e - pos - 24).toString("utf8") };
}

/**
 * TIME_CONV: perf time ↔ TSC. The short form (perf < 5.10) has shift, mult and
 * zero; the long form adds cycles, mask and the two capability flags.
 */
export function parseTimeConv(view: DataView, pos: number, size: number, le: boolean): PerfTimeConv | string {
  if (size < 32) return `TIME_CONV of ${size} bytes is too short (32 at least)`;
  const timeShift = view.getBigUint64(pos + 8, le);
  const timeMult = view.getBigUint64(pos + 16, le);
  if (timeShift > 63n || timeMult > 0xffffffffn) return `TIME_CONV shift ${timeShift} / mult ${timeMult} out of range`;
  const short = { timeShift: Number(timeShift), timeMult: Number(timeMult), timeZero: view.getBigUint64(pos + 24, le) };
  if (size < 50) return short;
  return {
    ...short,
    timeCycles: view.getBigUint64(pos + 32, le),
    timeMask: view.getBigUint64(pos + 40, le),
    capUserTimeZero: view.getUint8(pos + 48) !== 0,
    capUserTimeShort: view.getUint8(pos + 49) !== 0,
  };
}
