/* A raw, blocking MQTT client for broker tests that run the broker's loop
 * on the same thread: the test steps the loop with UV_RUN_NOWAIT (tc_pump)
 * while it waits for the broker's answers. Failures are cmocka asserts. */
#ifndef MQS_BROKER_TEST_CLIENT_H
#define MQS_BROKER_TEST_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "mqtt/codec.h"

typedef struct tc_conn {
    int fd;
    uint8_t version;
    buf in;   /* bytes received from the broker, not yet consumed */
    bool eof; /* the broker closed the connection */
} tc_conn;

/* Connect c (zeroed first) over TCP to 127.0.0.1:port. */
void tc_open(tc_conn *c, uint16_t port, uint8_t version);
/* tc_open on a new heap connection; release it with tc_close. */
tc_conn *tc_dial(uint16_t port, uint8_t version);
/* Close the socket and drop the buffered input of a tc_open'ed conn. */
void tc_release(tc_conn *c);
/* tc_release and free a tc_dial'ed conn. */
void tc_close(tc_conn *c);

/* One loop step, then take whatever the broker sent (or note EOF); sleeps
 * 1 ms when nothing was there. */
void tc_pump(uv_loop_t *loop, tc_conn *c);
/* Encode p with c's protocol version and write it whole. */
void tc_send(tc_conn *c, const mqtt_packet *p);
/* A clean-start CONNECT in c's version, keep-alive 60, with client id `id`
 * and, when user is not NULL, that user name. */
void tc_send_connect(tc_conn *c, const char *id, const char *user);
/* Drop the first packet of c->in, which `p` was decoded from (its slices
 * point there), after releasing p. */
void tc_consume(tc_conn *c, mqtt_packet *p);
/* Nothing arrives within ~100 ms. */
void tc_expect_silence(uv_loop_t *loop, tc_conn *c);

#endif
