/*
 * malloc_trim(3) for the agent: after a burst of work (a flood of requests, large payloads) glibc
 * keeps the memory it freed in its arenas, so the process's RSS stays at the burst's peak long
 * after V8 gave its part back. A trim returns the free pages to the system. Node-API only, so one
 * build loads on every Node.js release.
 *
 *   trim(): boolean   whether any memory was returned (false where the C library has no trim)
 */

#define NAPI_VERSION 8
#include <node_api.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  if (napi_get_boolean(env, released != 0, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim_memory, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
