// Frame decoding of one large frame: in one chunk (the baseline, timed in the
// same run) against the same bytes trickled in small chunks, as a slow or
// hostile peer sends them. The work must stay linear: the trickled ratio is a
// small constant, not proportional to the frame size over the chunk size.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bestOf } from "../../../bench/bench-kit.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { FrameDecoder, encodeFrame, MSG } = await import(resolve(here, "../dist/index.js"));

const SIZE = 16 * 1024 * 1024;
const frame = encodeFrame(MSG.hello, 1, Buffer.alloc(SIZE, 7));

function decodeIn(step) {
  const dec = new FrameDecoder({ maxPayloadBytes: SIZE });
  let frames = 0;
  for (let i = 0; i < frame.length; i += step) frames += dec.push(frame.subarray(i, i + step)).length;
  if (frames !== 1) throw new Error(`decoded ${frames} frames`);
  return dec.bytesCopied;
}

const whole = bestOf(3, () => decodeIn(frame.length));
console.log(`decoding one ${SIZE / 1024 / 1024} MiB frame (best of 3):`);
console.log(`  one chunk (baseline)  ${(whole / 1e6).toFixed(1).padStart(8)} ms`);
for (const step of [65536, 4096, 256]) {
  const t = bestOf(3, () => decodeIn(step));
  const copied = decodeIn(step);
  console.log(`  ${String(step).padStart(5)}-byte chunks     ${(t / 1e6).toFixed(1).padStart(8)} ms   ×${(t / whole).toFixed(1)} the baseline   ${(copied / frame.length).toFixed(2)} bytes copied per byte`);
}
