/*
 * @clocksource/native: read the CPU's counter from JavaScript.
 *
 * x86/x86-64: rdtsc, rdtscp (with the CPU number the kernel stores in
 * IA32_TSC_AUX). arm64: cntvct_el0, cntfrq_el0 (compiled only there).
 * Everywhere Linux: a counter read bracketing a CLOCK_MONOTONIC_RAW read,
 * for calibration. The "sink" path writes the counter into a BigUint64Array
 * the caller registered once, so a read allocates no BigInt.
 *
 * Where the compiler has a 128-bit integer: KVM's TSC map and its exact
 * inverse over whole BigUint64Arrays (mulShiftAddBatch and
 * mulShiftAddInverseBatch). WebAssembly has no 64 x 64 -> 128-bit multiply and
 * cannot reach an ordinary array's memory, so the same loops there cost a
 * copy in and out and a multiply built from 32-bit halves.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
static inline uint64_t counter_read(void) { return __rdtsc(); }
/* lfence keeps the read from being hoisted above earlier loads (for bracketing). */
static inline uint64_t counter_read_ordered(void) { _mm_lfence(); uint64_t v = __rdtsc(); _mm_lfence(); return v; }
#define COUNTER_NAME "tsc"
#elif defined(__aarch64__)
#define HAVE_CNTVCT 1
static inline uint64_t counter_read(void) { uint64_t v; __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v)); return v; }
static inline uint64_t counter_read_ordered(void) { uint64_t v; __asm__ volatile("isb; mrs %0, cntvct_el0; isb" : "=r"(v) :: "memory"); return v; }
static inline uint64_t cntfrq_read(void) { uint64_t v; __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v)); return v; }
#define COUNTER_NAME "cntvct"
#else
#define COUNTER_NAME "none"
#endif

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "clocksource_native: " #call " failed"); return NULL; } } while (0)

typedef struct {
  napi_ref sink_ref;
  uint64_t *sink;
  size_t sink_len;
} module_state;

static napi_value make_u64(napi_env env, uint64_t v) {
  napi_value out;
  if (napi_create_bigint_uint64(env, v, &out) != napi_ok) return NULL;
  return out;
}

static napi_value Noop(napi_env env, napi_callback_info info) {
  (void)env; (void)info;
  return NULL;
}

#if defined(HAVE_TSC) || defined(HAVE_CNTVCT)
static napi_value Counter(napi_env env, napi_callback_info info) {
  (void)info;
  return make_u64(env, counter_read());
}
#endif

#ifdef HAVE_TSC
static napi_value Rdtscp(napi_env env, napi_callback_info info) {
  (void)info;
  unsigned int aux = 0;
  uint64_t tsc = __rdtscp(&aux);
  napi_value obj, t, cpu, node;
  CHECK(napi_create_object(env, &obj));
  t = make_u64(env, tsc);
  if (!t) return NULL;
  /* Linux stores (node << 12) | cpu in IA32_TSC_AUX. */
  CHECK(napi_create_uint32(env, aux & 0xfff, &cpu));
  CHECK(napi_create_uint32(env, aux >> 12, &node));
  CHECK(napi_set_named_property(env, obj, "tsc", t));
  CHECK(napi_set_named_property(env, obj, "cpu", cpu));
  CHECK(napi_set_named_property(env, obj, "node", node));
  return obj;
}
#endif

#ifdef HAVE_CNTVCT
static napi_value Cntfrq(napi_env env, napi_callback_info info) {
  (void)info;
  return make_u64(env, cntfrq_read());
}
#endif

/* Returns a pointer into a BigUint64Array argument with at least `min_len` elements, or NULL after throwing. */
static uint64_t *u64_array_arg(napi_env env, napi_value v, size_t min_len, size_t *len_out, const char *what) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  napi_typedarray_type type;
  size_t len;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_biguint64_array || len < min_len) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  if (len_out) *len_out = len;
  return (uint64_t *)data;
}

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 u128;

/* The (input, output, mult, shift, add) arguments of the batch functions. */
typedef struct { const uint64_t *in; uint64_t *out; size_t n; uint64_t mult, add; unsigned shift; int overlap; } batch_args;

/* What the batch functions return when the output overlaps the input at another offset: nothing was converted. */
#define BATCH_OVERLAP (-2)

/* A BigUint64Array's data and length (the data may be NULL when it is empty); 0 if it is not one. */
static int u64_array_any(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok || type != napi_biguint64_array) return 0;
  return 1;
}

static int batch_arg_u64(napi_env env, napi_value v, uint64_t *out, const char *what) {
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok || !lossless) {
    napi_throw_range_error(env, NULL, what);
    return 0;
  }
  return 1;
}

static int batch_args_get(napi_env env, napi_callback_info info, batch_args *a, const char *name) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, name);
    return 0;
  }
  size_t n_out = 0;
  void *in = NULL, *out = NULL;
  if (!u64_array_any(env, argv[0], &in, &a->n)) {
    napi_throw_type_error(env, NULL, "the input must be a BigUint64Array");
    return 0;
  }
  if (!u64_array_any(env, argv[1], &out, &n_out) || n_out < a->n) {
    napi_throw_type_error(env, NULL, "the output must be a BigUint64Array at least as long as the input");
    return 0;
  }
  a->in = (const uint64_t *)in;
  a->out = (uint64_t *)out;
  if (!batch_arg_u64(env, argv[2], &a->mult, "mult must be a bigint in 0..2^64-1")) return 0;
  /* A number that is an integer in 0..63: napi_get_value_uint32 would take NaN, 1.5 or 2^32 + 3 as some shift. */
  double shift = -1;
  if (napi_get_value_double(env, argv[3], &shift) != napi_ok || !(shift >= 0 && shift <= 63) || shift != (double)(unsigned)shift) {
    napi_throw_range_error(env, NULL, "shift must be an integer in 0..63");
    return 0;
  }
  a->shift = (unsigned)shift;
  if (!batch_arg_u64(env, argv[4], &a->add, "add must be a bigint in 0..2^64-1")) return 0;
  /*
   * In place or apart: an output that overlaps the input at another offset would read values already
   * written. Compared by address, so two buffer objects over one memory (a SharedArrayBuffer cloned,
   * a WebAssembly memory's buffer before and after it grew) count too. The caller hears BATCH_OVERLAP
   * and can convert another way.
   */
  const uintptr_t in0 = (uintptr_t)a->in, out0 = (uintptr_t)a->out, bytes = (uintptr_t)a->n * sizeof(uint64_t);
  a->overlap = a->n && in0 != out0 && out0 < in0 + bytes && in0 < out0 + bytes;
  return 1;
}

static napi_value int64_value(napi_env env, int64_t v) {
  napi_value r;
  CHECK(napi_create_int64(env, v, &r));
  return r;
}

/*
 * mulShiftAddBatch(input, output, mult, shift, add): output[i] = ((input[i] * mult) >> shift) + add
 * mod 2^64, 128-bit product. Returns -1, or BATCH_OVERLAP having converted nothing.
 */
static napi_value MulShiftAddBatch(napi_env env, napi_callback_info info) {
  batch_args a;
  if (!batch_args_get(env, info, &a, "mulShiftAddBatch(input, output, mult, shift, add)")) return NULL;
  if (a.overlap) return int64_value(env, BATCH_OVERLAP);
  const uint64_t *in = a.in;
  uint64_t *out = a.out;
  const uint64_t mult = a.mult, add = a.add;
  const unsigned shift = a.shift;
  for (size_t i = 0; i < a.n; i++) out[i] = (uint64_t)(((u128)in[i] * mult) >> shift) + add;
  return int64_value(env, -1);
}

/*
 * mulShiftAddInverseBatch(input, output, mult, shift, add): output[i] = the smallest x < 2^64 with
 * floor(x * mult / 2^shift) >= (input[i] - add) mod 2^64, that is ceil(((input[i] - add) << shift) / mult).
 * Returns the index of the first value that has none (its input value is copied to output unchanged;
 * the values after it are still converted), or -1; or BATCH_OVERLAP having converted nothing.
 */
static napi_value MulShiftAddInverseBatch(napi_env env, napi_callback_info info) {
  batch_args a;
  if (!batch_args_get(env, info, &a, "mulShiftAddInverseBatch(input, output, mult, shift, add)")) return NULL;
  if (a.mult == 0) { napi_throw_range_error(env, NULL, "mult must be at least 1"); return NULL; }
  if (a.overlap) return int64_value(env, BATCH_OVERLAP);
  const uint64_t *in = a.in;
  uint64_t *out = a.out;
  const uint64_t mult = a.mult, add = a.add;
  const unsigned shift = a.shift;
  /* u << shift has a result iff it is <= mult * (2^64 - 1); then its ceiling quotient fits in 64 bits. */
  const u128 limit = (u128)mult * UINT64_MAX;
  int64_t first = -1;
  for (size_t i = 0; i < a.n; i++) {
    const uint64_t y = in[i];
    const u128 x = (u128)(y - add) << shift;
    if (x > limit) {
      out[i] = y;
      if (first < 0) first = (int64_t)i;
      continue;
    }
    out[i] = (uint64_t)((x + (mult - 1)) / mult);
  }
  return int64_value(env, first);
}
#endif

/* out[0] = counter before, out[1] = CLOCK_MONOTONIC_RAW in ns, out[2] = counter after. */
static napi_value ReadCounterPair(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) { napi_throw_type_error(env, NULL, "readCounterPair needs a BigUint64Array of length >= 3"); return NULL; }
  uint64_t *out = u64_array_arg(env, argv[0], 3, NULL, "readCounterPair needs a BigUint64Array of length >= 3");
  if (!out) return NULL;
#if (defined(HAVE_TSC) || defined(HAVE_CNTVCT)) && defined(CLOCK_MONOTONIC_RAW)
  struct timespec ts;
  uint64_t before = counter_read_ordered();
  int rc = clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  uint64_t after = counter_read_ordered();
  if (rc != 0) { napi_throw_error(env, NULL, "clock_gettime(CLOCK_MONOTONIC_RAW) failed"); return NULL; }
  out[0] = before;
  out[1] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  out[2] = after;
  return NULL;
#else
  napi_throw_error(env, NULL, "no counter or no CLOCK_MONOTONIC_RAW on this platform");
  return NULL;
#endif
}

/* Registers the BigUint64Array that readCounterToSink writes into (element 0). */
static napi_value SetSink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  module_state *st;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&st));
  if (argc < 1) { napi_throw_type_error(env, NULL, "setSink needs a BigUint64Array"); return NULL; }
  size_t len = 0;
  uint64_t *data = u64_array_arg(env, argv[0], 1, &len, "setSink needs a non-empty BigUint64Array");
  if (!data) return NULL;
  if (st->sink_ref) { napi_delete_reference(env, st->sink_ref); st->sink_ref = NULL; }
  CHECK(napi_create_reference(env, argv[0], 1, &st->sink_ref));
  st->sink = data;
  st->sink_len = len;
  return NULL;
}

#if defined(HAVE_TSC) || defined(HAVE_CNTVCT)
static napi_value ReadCounterToSink(napi_env env, napi_callback_info info) {
  module_state *st;
  if (napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&st) != napi_ok) return NULL;
  if (!st->sink) { napi_throw_error(env, NULL, "readCounterToSink: call setSink(BigUint64Array) first"); return NULL; }
  st->sink[0] = counter_read();
  return NULL;
}
#endif

static void finalize_state(napi_env env, void *data, void *hint) {
  (void)hint;
  module_state *st = (module_state *)data;
  if (st->sink_ref) napi_delete_reference(env, st->sink_ref);
  free(st);
}

static napi_status add_fn(napi_env env, napi_value exports, const char *name, napi_callback cb, module_state *st) {
  napi_value fn;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, st, &fn);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, name, fn);
}

#include <stdlib.h>

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  module_state *st = (module_state *)calloc(1, sizeof(module_state));
  if (!st) return NULL;
  if (napi_set_instance_data(env, st, finalize_state, NULL) != napi_ok) { free(st); return NULL; }
  napi_value name;
  if (napi_create_string_utf8(env, COUNTER_NAME, NAPI_AUTO_LENGTH, &name) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "counter", name) != napi_ok) return NULL;
  if (add_fn(env, exports, "noop", Noop, st) != napi_ok) return NULL;
  if (add_fn(env, exports, "readCounterPair", ReadCounterPair, st) != napi_ok) return NULL;
  if (add_fn(env, exports, "setSink", SetSink, st) != napi_ok) return NULL;
#ifdef __SIZEOF_INT128__
  if (add_fn(env, exports, "mulShiftAddBatch", MulShiftAddBatch, st) != napi_ok) return NULL;
  if (add_fn(env, exports, "mulShiftAddInverseBatch", MulShiftAddInverseBatch, st) != napi_ok) return NULL;
#endif
#if defined(HAVE_TSC) || defined(HAVE_CNTVCT)
  if (add_fn(env, exports, "readCounter", Counter, st) != napi_ok) return NULL;
  if (add_fn(env, exports, "readCounterToSink", ReadCounterToSink, st) != napi_ok) return NULL;
#endif
#ifdef HAVE_TSC
  if (add_fn(env, exports, "rdtsc", Counter, st) != napi_ok) return NULL;
  if (add_fn(env, exports, "rdtscp", Rdtscp, st) != napi_ok) return NULL;
#endif
#ifdef HAVE_CNTVCT
  if (add_fn(env, exports, "cntvct", Counter, st) != napi_ok) return NULL;
  if (add_fn(env, exports, "cntfrq", Cntfrq, st) != napi_ok) return NULL;
#endif
  return exports;
}
