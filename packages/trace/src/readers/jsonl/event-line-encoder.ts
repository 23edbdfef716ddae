/**
 * One event as one line of JSON, in the schema the JSON lines reader reads
 * back (`clocksource trace dump`; docs/traces.md):
 *
 * `{"machine":M,"ts":"<u64>","cpu":N,"pid":N,"tid":N,"comm":S|null,"event":S,"fields":{…},"clock":S|null[,"buffer":S]}`
 *
 * Field values: numbers as JSON numbers, bigints (64-bit values) as decimal
 * strings, byte arrays as lower-case hex strings, arrays as JSON arrays
 * (bigint elements as decimal strings), strings as strings, null as null.
 *
 * The schema is written once, by {@link EventLineBytes} (what `trace dump`
 * streams); this gives its bytes for one event as a string.
 */
import type { TraceEvent } from "../../model/event.js";
import { EventLineBytes } from "./event-line-bytes.js";

/** Encodes events of one trace as JSON lines, a string per event. */
export class EventLineEncoder {
  private readonly bytes: EventLineBytes;
  /** What the byte encoder handed over for the line being encoded (a line longer than its chunk comes in pieces). */
  private pieces: Buffer[] = [];

  /**
   * @param machine the machine name every line carries
   * @param clockOf the clock name of a buffer's timestamps (null when unknown)
   */
  constructor(machine: string, clockOf: (buffer: string) => string | null) {
    // The pieces are copied, so the byte encoder may reuse its chunk.
    this.bytes = new EventLineBytes(machine, clockOf, (chunk) => (this.pieces.push(Buffer.from(chunk)), true));
  }

  /** The line for one event, with its newline. */
  encode(e: TraceEvent): string {
    this.bytes.write(e);
    this.bytes.flush();
    const line = this.pieces.length === 1 ? (this.pieces[0] as Buffer).toString("utf8") : Buffer.concat(this.pieces).toString("utf8");
    this.pieces = [];
    return line;
  }
}
