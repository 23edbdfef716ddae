/*
 * A minimal Node-API host: loads a prebuilt clocksource addon (.node) with
 * dlopen, registers it as Node would, and calls its functions. It exists so
 * the linux-arm64 prebuild can be run on an x86 machine under qemu-user,
 * where no arm64 Node is available. It implements only the Node-API calls
 * the addon imports (`nm -D --undefined-only`) and prints "key value" lines.
 *
 *   aarch64-linux-gnu-gcc -rdynamic -I/usr/include/node -o host napi-host.c
 *   qemu-aarch64 -L /usr/aarch64-linux-gnu ./host clocksource_native.node
 *
 * With "batch" after the addon, it reads cases from stdin instead, one a line:
 * `fwd|inv MULT SHIFT ADD V1 V2 ...` (decimal), runs mulShiftAddBatch or
 * mulShiftAddInverseBatch on them into a separate output, then in place, and
 * prints `RESULT V1' V2' ...` for each (RESULT: what the function returned).
 * Last, one line for an output one value after the input in the same memory.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_OBJECT, K_BIGINT, K_STRING, K_FUNCTION, K_U32, K_I64, K_TYPEDARRAY };
#define MAX_PROPS 32

struct napi_value__ {
  enum kind kind;
  uint64_t u;
  char *s;
  napi_callback cb;
  void *data;
  int nprops;
  const char *names[MAX_PROPS];
  napi_value values[MAX_PROPS];
  napi_typedarray_type ta_type;
  size_t ta_len;
  void *ta_data;
};
struct napi_env__ { void *instance_data; int thrown; char error[256]; };
struct napi_callback_info__ { size_t argc; napi_value *argv; void *data; };
struct napi_ref__ { napi_value value; };

static napi_value new_value(enum kind k) {
  napi_value v = calloc(1, sizeof(*v));
  if (!v) { fputs("out of memory\n", stderr); exit(3); }
  v->kind = k;
  return v;
}

NAPI_EXTERN napi_status NAPI_CDECL napi_create_bigint_uint64(napi_env env, uint64_t value, napi_value *result) {
  (void)env; *result = new_value(K_BIGINT); (*result)->u = value; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_create_uint32(napi_env env, uint32_t value, napi_value *result) {
  (void)env; *result = new_value(K_U32); (*result)->u = value; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_create_int64(napi_env env, int64_t value, napi_value *result) {
  (void)env; *result = new_value(K_I64); (*result)->u = (uint64_t)value; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_get_value_bigint_uint64(napi_env env, napi_value value, uint64_t *result, bool *lossless) {
  (void)env;
  if (!value || value->kind != K_BIGINT) return napi_bigint_expected;
  *result = value->u; *lossless = true; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_get_value_double(napi_env env, napi_value value, double *result) {
  (void)env;
  if (!value || value->kind != K_U32) return napi_number_expected;
  *result = (double)value->u; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_create_object(napi_env env, napi_value *result) {
  (void)env; *result = new_value(K_OBJECT); return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_create_string_utf8(napi_env env, const char *str, size_t length, napi_value *result) {
  (void)env;
  size_t n = length == NAPI_AUTO_LENGTH ? strlen(str) : length;
  *result = new_value(K_STRING);
  (*result)->s = strndup(str, n);
  return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_create_function(napi_env env, const char *name, size_t length, napi_callback cb, void *data, napi_value *result) {
  (void)env; (void)name; (void)length;
  *result = new_value(K_FUNCTION); (*result)->cb = cb; (*result)->data = data; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_set_named_property(napi_env env, napi_value object, const char *name, napi_value value) {
  (void)env;
  if (object->nprops >= MAX_PROPS) return napi_generic_failure;
  object->names[object->nprops] = name;
  object->values[object->nprops++] = value;
  return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_set_instance_data(napi_env env, void *data, napi_finalize finalize_cb, void *hint) {
  (void)finalize_cb; (void)hint; env->instance_data = data; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_get_cb_info(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *this_arg, void **data) {
  (void)env;
  if (argc) {
    for (size_t i = 0; i < *argc; i++) argv[i] = i < info->argc ? info->argv[i] : NULL;
    *argc = info->argc;
  }
  if (this_arg) *this_arg = NULL;
  if (data) *data = info->data;
  return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_is_typedarray(napi_env env, napi_value value, bool *result) {
  (void)env; *result = value && value->kind == K_TYPEDARRAY; return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_get_typedarray_info(napi_env env, napi_value ta, napi_typedarray_type *type, size_t *length, void **data, napi_value *arraybuffer, size_t *byte_offset) {
  (void)env;
  if (!ta || ta->kind != K_TYPEDARRAY) return napi_invalid_arg;
  if (type) *type = ta->ta_type;
  if (length) *length = ta->ta_len;
  if (data) *data = ta->ta_data;
  if (arraybuffer) *arraybuffer = NULL;
  if (byte_offset) *byte_offset = 0;
  return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_create_reference(napi_env env, napi_value value, uint32_t initial, napi_ref *result) {
  (void)env; (void)initial;
  *result = calloc(1, sizeof(**result));
  if (!*result) return napi_generic_failure;
  (*result)->value = value;
  return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_delete_reference(napi_env env, napi_ref ref) {
  (void)env; free(ref); return napi_ok;
}
static napi_status throw(napi_env env, const char *kind, const char *msg) {
  env->thrown = 1;
  snprintf(env->error, sizeof env->error, "%s: %s", kind, msg);
  return napi_ok;
}
NAPI_EXTERN napi_status NAPI_CDECL napi_throw_error(napi_env env, const char *code, const char *msg) { (void)code; return throw(env, "Error", msg); }
NAPI_EXTERN napi_status NAPI_CDECL napi_throw_type_error(napi_env env, const char *code, const char *msg) { (void)code; return throw(env, "TypeError", msg); }
NAPI_EXTERN napi_status NAPI_CDECL napi_throw_range_error(napi_env env, const char *code, const char *msg) { (void)code; return throw(env, "RangeError", msg); }

static napi_value get(napi_value obj, const char *name) {
  for (int i = 0; i < obj->nprops; i++) if (strcmp(obj->names[i], name) == 0) return obj->values[i];
  return NULL;
}

/* Calls exports[name](args...); exits when it is missing or throws. */
static napi_value call(napi_env env, napi_value exports, const char *name, size_t argc, napi_value *argv) {
  napi_value fn = get(exports, name);
  if (!fn || fn->kind != K_FUNCTION) { fprintf(stderr, "the addon has no function %s\n", name); exit(4); }
  struct napi_callback_info__ info = { argc, argv, fn->data };
  napi_value r = fn->cb(env, &info);
  if (env->thrown) { fprintf(stderr, "%s threw %s\n", name, env->error); exit(5); }
  return r;
}

static napi_value biguint64_array(size_t len) {
  napi_value v = new_value(K_TYPEDARRAY);
  v->ta_type = napi_biguint64_array;
  v->ta_len = len;
  v->ta_data = calloc(len, sizeof(uint64_t));
  return v;
}

static napi_value bigint(uint64_t u) { napi_value v = new_value(K_BIGINT); v->u = u; return v; }

/* Runs one batch function on `in` (n values) into `out`; prints the result and the values written. */
static void batch_run(napi_env env, napi_value exports, const char *fn, napi_value in, napi_value out, uint64_t mult, unsigned shift, uint64_t add) {
  napi_value shift_v = new_value(K_U32);
  shift_v->u = shift;
  napi_value args[5] = { in, out, bigint(mult), shift_v, bigint(add) };
  napi_value r = call(env, exports, fn, 5, args);
  printf("%" PRId64, r && r->kind == K_I64 ? (int64_t)r->u : INT64_MIN);
  for (size_t i = 0; i < in->ta_len; i++) printf(" %" PRIu64, ((uint64_t *)out->ta_data)[i]);
  printf("\n");
}

/* The "batch" mode (see the top): each case apart (a separate output), then in place; last, an overlapping output. */
static int batch_cases(napi_env env, napi_value exports) {
  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    char op[8];
    unsigned long long mult, add;
    unsigned shift;
    int used = 0;
    if (sscanf(line, "%7s %llu %u %llu%n", op, &mult, &shift, &add, &used) != 4) { fprintf(stderr, "bad case: %s", line); return 8; }
    napi_value in = biguint64_array(4096);
    size_t n = 0;
    const char *p = line + used;
    unsigned long long v;
    int k;
    while (n < 4096 && sscanf(p, "%llu%n", &v, &k) == 1) { ((uint64_t *)in->ta_data)[n++] = v; p += k; }
    in->ta_len = n;
    const char *fn = strcmp(op, "inv") == 0 ? "mulShiftAddInverseBatch" : "mulShiftAddBatch";
    batch_run(env, exports, fn, in, biguint64_array(n), mult, shift, add);
    batch_run(env, exports, fn, in, in, mult, shift, add);
  }
  /* The output one value after the input, over the same memory: -2, nothing written. */
  napi_value all = biguint64_array(5);
  for (int i = 0; i < 5; i++) ((uint64_t *)all->ta_data)[i] = 10 * (i + 1);
  napi_value in = new_value(K_TYPEDARRAY), out = new_value(K_TYPEDARRAY);
  in->ta_type = out->ta_type = napi_biguint64_array;
  in->ta_len = out->ta_len = 4;
  in->ta_data = all->ta_data;
  out->ta_data = (uint64_t *)all->ta_data + 1;
  batch_run(env, exports, "mulShiftAddBatch", in, out, 3, 0, 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "batch") == 0)) { fputs("usage: napi-host ADDON.node [batch]\n", stderr); return 2; }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 6; }
  int32_t (*api_version)(void) = (int32_t (*)(void))dlsym(lib, "node_api_module_get_api_version_v1");
  napi_value (*init)(napi_env, napi_value) = (napi_value (*)(napi_env, napi_value))dlsym(lib, "napi_register_module_v1");
  if (!init) { fputs("not a Node-API module (no napi_register_module_v1)\n", stderr); return 6; }
  if (api_version) printf("napi_version %d\n", api_version());
  struct napi_env__ env_store = {0};
  napi_env env = &env_store;
  napi_value exports = init(env, new_value(K_OBJECT));
  if (!exports || env->thrown) { fprintf(stderr, "init failed %s\n", env->error); return 7; }
  if (argc == 3) return batch_cases(env, exports);

  napi_value counter = get(exports, "counter");
  printf("counter %s\n", counter && counter->kind == K_STRING ? counter->s : "?");
  printf("exports");
  for (int i = 0; i < exports->nprops; i++) printf(" %s", exports->names[i]);
  printf("\n");
  call(env, exports, "noop", 0, NULL);

  uint64_t a = call(env, exports, "cntvct", 0, NULL)->u;
  uint64_t b = call(env, exports, "readCounter", 0, NULL)->u;
  printf("first %" PRIu64 "\nsecond %" PRIu64 "\n", a, b);
  printf("cntfrq %" PRIu64 "\n", call(env, exports, "cntfrq", 0, NULL)->u);

  napi_value pair = biguint64_array(3);
  call(env, exports, "readCounterPair", 1, &pair);
  uint64_t *p = pair->ta_data;
  printf("pair_before %" PRIu64 "\npair_monotonic_ns %" PRIu64 "\npair_after %" PRIu64 "\n", p[0], p[1], p[2]);

  napi_value sink = biguint64_array(1);
  call(env, exports, "setSink", 1, &sink);
  uint64_t lo = call(env, exports, "readCounter", 0, NULL)->u;
  call(env, exports, "readCounterToSink", 0, NULL);
  uint64_t hi = call(env, exports, "readCounter", 0, NULL)->u;
  printf("sink_lo %" PRIu64 "\nsink %" PRIu64 "\nsink_hi %" PRIu64 "\n", lo, ((uint64_t *)sink->ta_data)[0], hi);

  /* A wrong argument must throw, not crash. */
  napi_value short_pair = biguint64_array(2);
  struct napi_callback_info__ info = { 1, &short_pair, get(exports, "readCounterPair")->data };
  get(exports, "readCounterPair")->cb(env, &info);
  printf("short_pair_throws %s\n", env->thrown ? env->error : "nothing");
  return 0;
}
