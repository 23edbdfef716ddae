/**
 * Ascending sort of distinct numbers that mostly arrive as a few sorted runs.
 *
 * A trace's records come per CPU, each CPU's in time order, so a round of them
 * is a handful of ascending runs (one per CPU and pass, plus what the previous
 * round left, already sorted). Merging the runs costs n·log2(runs) compares
 * instead of a full sort's n·log2(n); with many short runs the engine's own
 * sort is faster, and is used instead.
 */

/** Above this many runs the engine's sort wins. */
const MAX_RUNS = 64;

/**
 * Sorts `keys` ascending and returns the sorted array: `keys` itself or a
 * second array of the same length. NaN must not occur; equal keys keep no
 * particular order (callers make keys distinct).
 */
export function sortRuns(keys: Float64Array): Float64Array {
  const n = keys.length;
  if (n < 2) return keys;
  // Run starts, then n as a sentinel end.
  const starts: number[] = [0];
  for (let i = 1; i < n; i++) {
    if ((keys[i] as number) < (keys[i - 1] as number)) {
      if (starts.length === MAX_RUNS) return keys.sort();
      starts.push(i);
    }
  }
  if (starts.length === 1) return keys;
  starts.push(n);
  let src: Float64Array = keys;
  let dst: Float64Array = new Float64Array(n);
  let bounds = starts;
  while (bounds.length > 2) {
    const next: number[] = [];
    let r = 0;
    for (; r + 2 < bounds.length; r += 2) {
      mergeInto(src, bounds[r] as number, bounds[r + 1] as number, bounds[r + 2] as number, dst);
      next.push(bounds[r] as number);
    }
    // An odd run out is copied as it is.
    if (r + 1 < bounds.length) {
      const a = bounds[r] as number;
      dst.set(src.subarray(a, bounds[r + 1] as number), a);
      next.push(a);
    }
    next.push(n);
    bounds = next;
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/** Merges the ascending runs src[a, m) and src[m, b) into dst[a, b). */
function mergeInto(src: Float64Array, a: number, m: number, b: number, dst: Float64Array): void {
  let i = a;
  let j = m;
  let o = a;
  // Runs that do not overlap are copied whole.
  if ((src[m - 1] as number) < (src[m] as number)) {
    dst.set(src.subarray(a, b), a);
    return;
  }
  let x = src[i] as number;
  let y = src[j] as number;
  for (;;) {
    if (x < y) {
      dst[o++] = x;
      if (++i === m) break;
      x = src[i] as number;
    } else {
      dst[o++] = y;
      if (++j === b) break;
      y = src[j] as number;
    }
  }
  if (i < m) dst.set(src.subarray(i, m), o);
  else if (j < b) dst.set(src.subarray(j, b), o);
}
