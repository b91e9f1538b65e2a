/*
 * sd_notify(3) for the agent's own process: one datagram to the AF_UNIX socket that systemd names
 * in NOTIFY_SOCKET. Node has no unix datagram sockets, and `systemd-notify` run as a child sends
 * from another pid, which NotifyAccess=main ignores. libsystemd is not needed for this: the
 * protocol is one sendto(2). Node-API only, so one build loads on every Node.js release.
 *
 *   send(socketPath: string, message: string): number   0, or the errno of the failure
 *
 * A path starting with '@' names the abstract namespace, as in systemd. The send never blocks:
 * a service manager that stopped reading must not stall the event loop (EAGAIN is returned).
 */

#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A notification is a few short assignments; this bounds what a caller can make us allocate. */
#define MAX_MESSAGE 4096

static int send_datagram(const char *path, size_t path_len, const char *message, size_t message_len) {
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (path_len == 0 || (path[0] != '/' && path[0] != '@')) return EINVAL;
  if (path_len >= sizeof address.sun_path) return ENAMETOOLONG;
  memcpy(address.sun_path, path, path_len);
  /* An abstract name has no terminating NUL: its length is part of the address. */
  socklen_t address_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  if (path[0] == '@') address.sun_path[0] = '\0';
  else address_len += 1;

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int result = 0;
  if (sendto(fd, message, message_len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&address, address_len) < 0) result = errno;
  close(fd);
  return result;
}

/* The UTF-8 bytes of a string argument into `buffer` (of `size` bytes, NUL included); false with
 * a pending TypeError or RangeError when it is not a string or does not fit. */
static int string_argument(napi_env env, napi_value value, const char *name, char *buffer, size_t size, size_t *length) {
  size_t needed = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &needed) != napi_ok) {
    napi_throw_type_error(env, NULL, name);
    return 0;
  }
  if (needed >= size) {
    napi_throw_range_error(env, NULL, name);
    return 0;
  }
  return napi_get_value_string_utf8(env, value, buffer, size, length) == napi_ok;
}

static napi_value send_notification(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "send(socketPath, message): two strings expected");
    return NULL;
  }
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t path_len = 0;
  if (!string_argument(env, argv[0], "socketPath: a string of at most 107 bytes expected", path, sizeof path, &path_len)) return NULL;
  char *message = malloc(MAX_MESSAGE + 1);
  if (message == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  size_t message_len = 0;
  napi_value result = NULL;
  if (string_argument(env, argv[1], "message: a string of at most 4096 bytes expected", message, MAX_MESSAGE + 1, &message_len)) {
    int error = send_datagram(path, path_len, message, message_len);
    napi_create_int32(env, error, &result);
  }
  free(message);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "send", NAPI_AUTO_LENGTH, send_notification, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "send", fn) != napi_ok) return NULL;
  return exports;
}
