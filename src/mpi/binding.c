/*
 * mnist-dp's binding to MPI: the few calls the engine needs, on typed arrays in place (no copies), over
 * Node-API (node_api.h), so that one build serves every Node version >= 20. Built by scripts/build-mpi.mjs
 * with the MPI's own compiler wrapper (mpicc); loaded by src/mpi/binding.ts.
 *
 * Every MPI error comes back as a JavaScript Error whose message starts with the call's name
 * ("MPI_Allgatherv: ..."): MPI_COMM_WORLD is set to MPI_ERRORS_RETURN at init. src/mpi/binding.ts turns
 * it into an mnist-dp error.
 *
 *   init()                       MPI_Init_thread(MPI_THREAD_SERIALIZED) once per process (any thread);
 *                                returns { rank, size, host }; later calls return the same
 *   allgatherv(view, counts)     MPI_Allgatherv in place: rank r's part of `view` is counts[r] elements
 *                                after the parts of ranks 0..r-1
 *   allreduce(view, op)          MPI_Allreduce in place, op "max" or "sum", on Int32/Float32/Float64Array
 *   bcast(view, root)            MPI_Bcast in place
 *   abort(code)                  MPI_Abort(MPI_COMM_WORLD, code): ends every rank
 *   finalize()                   MPI_Finalize, once
 *
 * MPI_THREAD_SERIALIZED: calls may come from any thread (the coordinator's, or the worker thread that
 * arrives last at a step barrier), never two at once; the engine's barriers make sure of that.
 */
#include <mpi.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int initialized = 0;

static napi_value fail(napi_env env, const char *call, int rc) {
  char text[MPI_MAX_ERROR_STRING + 64];
  char reason[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, reason, &len) != MPI_SUCCESS) snprintf(reason, sizeof reason, "error %d", rc);
  snprintf(text, sizeof text, "%s: %s", call, reason);
  napi_throw_error(env, "MPI_FAILED", text);
  return NULL;
}

static napi_value usage(napi_env env, const char *text) {
  napi_throw_type_error(env, "MPI_USAGE", text);
  return NULL;
}

#define MPI_CALL(env, call, args) do { int rc_ = call args; if (rc_ != MPI_SUCCESS) return fail(env, #call, rc_); } while (0)

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* A typed array in place: its data (already at its byte offset), element count and MPI type. */
struct view {
  void *data;
  size_t length;
  MPI_Datatype type;
};

/*
 * The two arguments of a collective, (view, second): checks that MPI is initialised and that `view` is a
 * typed array of a type the call takes (bytes too when `bytes_ok`). Returns 0 after throwing.
 */
static int view_args(napi_env env, napi_callback_info info, struct view *v, napi_value *second, int bytes_ok, const char *text) {
  size_t argc = 2;
  napi_value argv[2];
  napi_typedarray_type t;
  napi_value buffer;
  size_t offset;
  bool is = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!initialized) { usage(env, "MPI is not initialised: call init() first"); return 0; }
  if (argc < 2 || napi_is_typedarray(env, argv[0], &is) != napi_ok || !is
      || napi_get_typedarray_info(env, argv[0], &t, &v->length, &v->data, &buffer, &offset) != napi_ok) { usage(env, text); return 0; }
  switch (t) {
    case napi_int32_array: v->type = MPI_INT; break;
    case napi_float32_array: v->type = MPI_FLOAT; break;
    case napi_float64_array: v->type = MPI_DOUBLE; break;
    case napi_uint8_array: if (bytes_ok) { v->type = MPI_BYTE; break; } /* fall through */
    default: usage(env, text); return 0;
  }
  *second = argv[1];
  return 1;
}

static napi_value init(napi_env env, napi_callback_info info) {
  static int rank = 0, size = 1;
  static char host[MPI_MAX_PROCESSOR_NAME] = "";
  if (!initialized) {
    int provided = 0, len = 0;
    MPI_CALL(env, MPI_Init_thread, (NULL, NULL, MPI_THREAD_SERIALIZED, &provided));
    initialized = 1;
    MPI_CALL(env, MPI_Comm_set_errhandler, (MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    if (provided < MPI_THREAD_SERIALIZED) {
      napi_throw_error(env, "MPI_FAILED", "MPI_Init_thread: this MPI does not provide MPI_THREAD_SERIALIZED (calls from more than one thread)");
      return NULL;
    }
    MPI_CALL(env, MPI_Comm_rank, (MPI_COMM_WORLD, &rank));
    MPI_CALL(env, MPI_Comm_size, (MPI_COMM_WORLD, &size));
    MPI_CALL(env, MPI_Get_processor_name, (host, &len));
  }
  napi_value out, name;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "rank", number(env, rank));
  napi_set_named_property(env, out, "size", number(env, size));
  napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, out, "host", name);
  return out;
}

static napi_value allgatherv(napi_env env, napi_callback_info info) {
  struct view v;
  napi_value list;
  if (!view_args(env, info, &v, &list, 1, "allgatherv(view, counts): view must be an Int32, Float32, Float64 or Uint8 array")) return NULL;
  int size;
  MPI_CALL(env, MPI_Comm_size, (MPI_COMM_WORLD, &size));
  uint32_t n;
  if (napi_get_array_length(env, list, &n) != napi_ok || (int)n != size) return usage(env, "allgatherv(view, counts): counts must hold one count per rank");
  int *counts = malloc(2 * sizeof(int) * size), *displs = counts + size;
  double total = 0;
  for (int r = 0; r < size; r++) {
    napi_value c;
    double count = -1;
    napi_get_element(env, list, r, &c);
    napi_get_value_double(env, c, &count);
    if (!(count >= 0 && count <= 2147483647.0)) { free(counts); return usage(env, "allgatherv(view, counts): counts must be integers >= 0"); }
    counts[r] = (int)count;
    displs[r] = (int)total;
    total += count;
  }
  if (total > (double)v.length || total > 2147483647.0) { free(counts); return usage(env, "allgatherv(view, counts): the counts add up to more than the view holds"); }
  int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v.data, counts, displs, v.type, MPI_COMM_WORLD);
  free(counts);
  if (rc != MPI_SUCCESS) return fail(env, "MPI_Allgatherv", rc);
  return NULL;
}

static napi_value allreduce(napi_env env, napi_callback_info info) {
  struct view v;
  napi_value name;
  char op[8] = "";
  size_t oplen;
  if (!view_args(env, info, &v, &name, 0, "allreduce(view, op): view must be an Int32, Float32 or Float64 array")) return NULL;
  napi_get_value_string_utf8(env, name, op, sizeof op, &oplen);
  MPI_Op mop;
  if (strcmp(op, "max") == 0) mop = MPI_MAX;
  else if (strcmp(op, "sum") == 0) mop = MPI_SUM;
  else return usage(env, "allreduce(view, op): op must be \"max\" or \"sum\"");
  MPI_CALL(env, MPI_Allreduce, (MPI_IN_PLACE, v.data, (int)v.length, v.type, mop, MPI_COMM_WORLD));
  return NULL;
}

static napi_value bcast(napi_env env, napi_callback_info info) {
  struct view v;
  napi_value which;
  int32_t root = -1;
  if (!view_args(env, info, &v, &which, 1, "bcast(view, root): view must be an Int32, Float32, Float64 or Uint8 array")) return NULL;
  napi_get_value_int32(env, which, &root);
  MPI_CALL(env, MPI_Bcast, (v.data, (int)v.length, v.type, root, MPI_COMM_WORLD));
  return NULL;
}

static napi_value abort_all(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc > 0) napi_get_value_int32(env, argv[0], &code);
  fflush(stdout);
  fflush(stderr);
  if (initialized) MPI_Abort(MPI_COMM_WORLD, code);
  exit(code);
}

static napi_value finalize(napi_env env, napi_callback_info info) {
  int done = 0;
  MPI_Finalized(&done);
  if (initialized && !done) MPI_CALL(env, MPI_Finalize, ());
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor calls[] = {
    {"init", NULL, init, NULL, NULL, NULL, napi_default, NULL},
    {"allgatherv", NULL, allgatherv, NULL, NULL, NULL, napi_default, NULL},
    {"allreduce", NULL, allreduce, NULL, NULL, NULL, napi_default, NULL},
    {"bcast", NULL, bcast, NULL, NULL, NULL, napi_default, NULL},
    {"abort", NULL, abort_all, NULL, NULL, NULL, napi_default, NULL},
    {"finalize", NULL, finalize, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof calls / sizeof calls[0], calls);
  return exports;
}
