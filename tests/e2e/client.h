/* Synchronous test clients on top of libmosquitto.
 *
 * All clients live in one thread. Every wait pumps the network loop of every
 * live client, so a publisher and its subscribers make progress together.
 * Every wait is bounded by a timeout in milliseconds. */
#ifndef MQS_E2E_CLIENT_H
#define MQS_E2E_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "harness.h"

#define TC_TIMEOUT_MS 5000

/* A received application message, with a private copy of its properties. */
struct tc_msg {
    char *topic;
    char *payload; /* NUL-terminated copy, payload_len bytes before the NUL */
    int payload_len;
    int qos;
    bool retain;
    mosquitto_property *props;
};

struct tc {
    struct mosquitto *m;
    char id[128];
    int version; /* MQTT_PROTOCOL_V5 or MQTT_PROTOCOL_V311 */

    bool got_connack;
    int connack_rc;
    int connack_flags; /* bit 0: session present */
    mosquitto_property *connack_props;

    bool disconnected;
    int disconnect_rc; /* reason code of a server DISCONNECT, or MOSQ_ERR_* */

    int subacks;
    int last_granted; /* first granted QoS / reason code of the last SUBACK */

    int pub_acks; /* on_publish callbacks: QoS>0 acks, QoS0 sends */
    int last_pub_mid;
    int last_pub_rc;

    struct tc_msg *msgs;
    int msg_count;
    int msg_cap;

    struct tc *next_live;
};

/* id NULL lets libmosquitto pick a random id. clean: Clean Start / Session. */
struct tc *tc_new(const char *id, int version, bool clean);
/* Connects and waits for CONNACK: returns the CONNACK reason/return code,
 * or -1 if the connection failed or no CONNACK arrived in time. */
int tc_connect(struct tc *c, int keepalive, const mosquitto_property *props);
/* Shorthand: new + connect; returns NULL (after recording a failure) if the
 * CONNACK is not a success. */
struct tc *tc_open(const char *id, int version, bool clean, const mosquitto_property *props);
/* Subscribes and waits for SUBACK; returns the granted QoS / reason code or
 * -1 on timeout. options are MQTT_SUB_OPT_* flags. */
int tc_subscribe(struct tc *c, const char *filter, int qos, int options, const mosquitto_property *props);
/* Publishes and, for QoS 1/2, waits for the flow to complete; returns the
 * PUBACK/PUBREC/PUBCOMP reason code (0 for QoS 0 once sent), -1 on timeout. */
int tc_publish(struct tc *c, const char *topic, const char *payload, int qos, bool retain,
               const mosquitto_property *props);
int tc_publish_bin(struct tc *c, const char *topic, const void *payload, int len, int qos, bool retain,
                   const mosquitto_property *props);
/* Sends DISCONNECT with the reason code and waits for the socket to close. */
void tc_disconnect(struct tc *c, int reason);
/* Closes the TCP connection without DISCONNECT (an abnormal disconnect as
 * seen by the broker). */
void tc_drop(struct tc *c);
void tc_destroy(struct tc *c);
void tc_destroy_all(void);

/* Runs one short round of network I/O for every live client. */
void tc_pump_once(void);
/* Pumps for a fixed duration: used to check that nothing (more) arrives. */
void tc_pump_for(int ms);
/* Pumps until c has at least n messages or timeout; returns c->msg_count >= n. */
bool tc_wait_msgs(struct tc *c, int n, int timeout_ms);
/* Number of received messages on the topic. */
int tc_count_topic(const struct tc *c, const char *topic);

/* Pumps until cond holds or timeout_ms elapses; the caller then CHECKs cond. */
#define PUMP_UNTIL(cond, timeout_ms) \
    for (int64_t deadline_ = e2e_now_ms() + (timeout_ms); !(cond) && e2e_now_ms() < deadline_;) tc_pump_once()

/* Property helpers for received messages; return false/-1 if absent. */
long tc_prop_int(const mosquitto_property *props, int id);
/* Copies a string or binary property into buf (NUL-terminated). */
bool tc_prop_str(const mosquitto_property *props, int id, char *buf, int size);
/* Number of subscription identifiers; stores up to max of them in ids. */
int tc_sub_ids(const mosquitto_property *props, uint32_t *ids, int max);

#endif
