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
#define NEED_INIT(env) do { if (!initialized) return usage(env, "MPI is not initialised: call init() first"); } while (0)

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* A typed array argument: its data (already at its byte offset), element count and MPI type. */
static int typed(napi_env env, napi_value value, void **data, size_t *length, MPI_Datatype *type, size_t *bytes) {
  napi_typedarray_type t;
  napi_value buffer;
  size_t offset;
  bool is;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, value, &t, length, data, &buffer, &offset) != napi_ok) return 0;
  switch (t) {
    case napi_int32_array: *type = MPI_INT; *bytes = 4; return 1;
    case napi_float32_array: *type = MPI_FLOAT; *bytes = 4; return 1;
    case napi_float64_array: *type = MPI_DOUBLE; *bytes = 8; return 1;
    case napi_uint8_array: *type = MPI_BYTE; *bytes = 1; return 1;
    default: return 0;
  }
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
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  NEED_INIT(env);
  void *data;
  size_t length, bytes;
  MPI_Datatype type;
  if (argc < 2 || !typed(env, argv[0], &data, &length, &type, &bytes)) return usage(env, "allgatherv(view, counts): view must be an Int32, Float32, Float64 or Uint8 array");
  int size;
  MPI_CALL(env, MPI_Comm_size, (MPI_COMM_WORLD, &size));
  uint32_t n;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok || (int)n != size) return usage(env, "allgatherv(view, counts): counts must hold one count per rank");
  int *counts = malloc(2 * sizeof(int) * size), *displs = counts + size;
  double total = 0;
  for (int r = 0; r < size; r++) {
    napi_value c;
    double v = -1;
    napi_get_element(env, argv[1], r, &c);
    napi_get_value_double(env, c, &v);
    if (!(v >= 0 && v <= 2147483647.0)) { free(counts); return usage(env, "allgatherv(view, counts): counts must be integers >= 0"); }
    counts[r] = (int)v;
    displs[r] = (int)total;
    total += v;
  }
  if (total > (double)length || total > 2147483647.0) { free(counts); return usage(env, "allgatherv(view, counts): the counts add up to more than the view holds"); }
  int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts, displs, type, MPI_COMM_WORLD);
  free(counts);
  if (rc != MPI_SUCCESS) return fail(env, "MPI_Allgatherv", rc);
  return NULL;
}

static napi_value allreduce(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  NEED_INIT(env);
  void *data;
  size_t length, bytes;
  MPI_Datatype type;
  char op[8] = "";
  size_t oplen;
  if (argc < 2 || !typed(env, argv[0], &data, &length, &type, &bytes) || type == MPI_BYTE) return usage(env, "allreduce(view, op): view must be an Int32, Float32 or Float64 array");
  napi_get_value_string_utf8(env, argv[1], op, sizeof op, &oplen);
  MPI_Op mop;
  if (strcmp(op, "max") == 0) mop = MPI_MAX;
  else if (strcmp(op, "sum") == 0) mop = MPI_SUM;
  else return usage(env, "allreduce(view, op): op must be \"max\" or \"sum\"");
  MPI_CALL(env, MPI_Allreduce, (MPI_IN_PLACE, data, (int)length, type, mop, MPI_COMM_WORLD));
  return NULL;
}

static napi_value bcast(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  NEED_INIT(env);
  void *data;
  size_t length, bytes;
  MPI_Datatype type;
  int32_t root = -1;
  if (argc < 2 || !typed(env, argv[0], &data, &length, &type, &bytes)) return usage(env, "bcast(view, root): view must be an Int32, Float32, Float64 or Uint8 array");
  napi_get_value_int32(env, argv[1], &root);
  MPI_CALL(env, MPI_Bcast, (data, (int)length, type, root, MPI_COMM_WORLD));
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
