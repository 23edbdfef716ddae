// Shared by the package benchmarks (not a benchmark itself: bench/run.mjs runs *.bench.mjs).

/** The fastest of `runs` timings of `f`, in nanoseconds: the least disturbed by a shared machine. */
export function bestOf(runs, f) {
  let min = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    f();
    min = Math.min(min, Number(process.hrtime.bigint() - t0));
  }
  return min;
}
