/* The core bench's physical floor: the MQTT.js echo of bench/core.bench.ts in C on libmosquitto,
 * with no runtime of its own between the socket and the answer. It must answer exactly as that
 * echo does (MQTT 5, TCP_NODELAY, QoS 1, `INFO: <payload>\n` on <topic> for each message on
 * <topic>/post), or the ratios against it measure a different protocol exchange.
 *
 *   mosquitto-echo <host> <port> <topic>      prints "ready" once subscribed
 */

#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *answer_topic;
static char *request_topic;

static void on_connect(struct mosquitto *mosq, void *userdata, int rc) {
  (void)userdata;
  if (rc != 0) {
    fprintf(stderr, "mosquitto-echo: connection refused: %s\n", mosquitto_connack_string(rc));
    exit(1);
  }
  rc = mosquitto_subscribe(mosq, NULL, request_topic, 1);
  if (rc != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "mosquitto-echo: subscribe: %s\n", mosquitto_strerror(rc));
    exit(1);
  }
}

static void on_subscribe(struct mosquitto *mosq, void *userdata, int mid, int count, const int *granted) {
  (void)mosq;
  (void)userdata;
  (void)mid;
  /* A refused subscription comes back as a suback all the same; the bench would then wait forever. */
  if (count < 1 || granted[0] != 1) {
    fprintf(stderr, "mosquitto-echo: subscription to %s not granted at QoS 1 (%d)\n", request_topic, count < 1 ? -1 : granted[0]);
    exit(1);
  }
  /* stdout is a pipe, so fully buffered: the bench waits for this line. */
  printf("ready\n");
  fflush(stdout);
}

static void on_message(struct mosquitto *mosq, void *userdata, const struct mosquitto_message *msg) {
  (void)userdata;
  static const char prefix[] = "INFO: ";
  size_t prefix_len = sizeof prefix - 1;
  size_t len = prefix_len + (size_t)msg->payloadlen + 1;
  char *answer = malloc(len);
  if (answer == NULL) {
    fprintf(stderr, "mosquitto-echo: out of memory\n");
    exit(1);
  }
  memcpy(answer, prefix, prefix_len);
  if (msg->payloadlen > 0) memcpy(answer + prefix_len, msg->payload, (size_t)msg->payloadlen);
  answer[len - 1] = '\n';
  int rc = mosquitto_publish(mosq, NULL, answer_topic, (int)len, answer, 1, false);
  free(answer);
  if (rc != MOSQ_ERR_SUCCESS) fprintf(stderr, "mosquitto-echo: publish: %s\n", mosquitto_strerror(rc));
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: mosquitto-echo <host> <port> <topic>\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  answer_topic = argv[3];
  request_topic = malloc(strlen(answer_topic) + sizeof "/post");
  if (request_topic == NULL) return 1;
  strcpy(request_topic, answer_topic);
  strcat(request_topic, "/post");

  mosquitto_lib_init();
  struct mosquitto *mosq = mosquitto_new(NULL, true, NULL);
  if (mosq == NULL) {
    fprintf(stderr, "mosquitto-echo: mosquitto_new failed\n");
    return 1;
  }
  mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set(mosq, on_connect);
  mosquitto_subscribe_callback_set(mosq, on_subscribe);
  mosquitto_message_callback_set(mosq, on_message);

  int rc = mosquitto_connect(mosq, host, port, 60);
  if (rc != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "mosquitto-echo: connect to %s:%d: %s\n", host, port, mosquitto_strerror(rc));
    return 1;
  }
  rc = mosquitto_loop_forever(mosq, -1, 1);
  fprintf(stderr, "mosquitto-echo: loop ended: %s\n", mosquitto_strerror(rc));
  mosquitto_destroy(mosq);
  mosquitto_lib_cleanup();
  return 1;
}
