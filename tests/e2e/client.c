/* libmosquitto-based test clients; see client.h. */
#include "client.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PUMP_POLL_MS 5
#define MAX_LIVE 64

static struct tc *live_clients;

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
    struct tc *c = obj;
    c->got_connack = true;
    c->connack_rc = rc;
    c->connack_flags = flags;
    mosquitto_property_free_all(&c->connack_props);
    mosquitto_property_copy_all(&c->connack_props, props);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
    struct tc *c = obj;
    c->disconnected = true;
    c->disconnect_rc = rc;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
                         const mosquitto_property *props)
{
    struct tc *c = obj;
    c->subacks++;
    c->last_granted = count > 0 ? granted[0] : -1;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *props)
{
    struct tc *c = obj;
    c->pub_acks++;
    c->last_pub_mid = mid;
    c->last_pub_rc = rc;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    struct tc *c = obj;
    if (c->msg_count == c->msg_cap) {
        c->msg_cap = c->msg_cap ? c->msg_cap * 2 : 16;
        c->msgs = realloc(c->msgs, (size_t)c->msg_cap * sizeof *c->msgs);
        if (!c->msgs) abort();
    }
    struct tc_msg *out = &c->msgs[c->msg_count++];
    memset(out, 0, sizeof *out);
    out->topic = strdup(msg->topic);
    out->payload = malloc((size_t)msg->payloadlen + 1);
    if (!out->topic || !out->payload) abort();
    if (msg->payloadlen > 0) /* an empty payload may come as NULL */
        memcpy(out->payload, msg->payload, (size_t)msg->payloadlen);
    out->payload[msg->payloadlen] = '\0';
    out->payload_len = msg->payloadlen;
    out->qos = msg->qos;
    out->retain = msg->retain;
    mosquitto_property_copy_all(&out->props, props);
}

struct tc *tc_new(const char *id, int version, bool clean)
{
    struct tc *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->version = version;
    snprintf(c->id, sizeof c->id, "%s", id ? id : "");
    c->m = mosquitto_new(id, clean, c);
    if (!c->m) abort();
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, version);
    mosquitto_connect_v5_callback_set(c->m, on_connect);
    mosquitto_disconnect_v5_callback_set(c->m, on_disconnect);
    mosquitto_subscribe_v5_callback_set(c->m, on_subscribe);
    mosquitto_publish_v5_callback_set(c->m, on_publish);
    mosquitto_message_v5_callback_set(c->m, on_message);
    c->next_live = live_clients;
    live_clients = c;
    return c;
}

int tc_connect(struct tc *c, int keepalive, const mosquitto_property *props)
{
    c->got_connack = false;
    c->disconnected = false;
    int rc = mosquitto_connect_bind_v5(c->m, "127.0.0.1", e2e_port(), keepalive, NULL,
                                       c->version == MQTT_PROTOCOL_V5 ? props : NULL);
    if (rc != MOSQ_ERR_SUCCESS) return -1;
    PUMP_UNTIL(c->got_connack || c->disconnected, TC_TIMEOUT_MS);
    return c->got_connack ? c->connack_rc : -1;
}

struct tc *tc_open(const char *id, int version, bool clean, const mosquitto_property *props)
{
    struct tc *c = tc_new(id, version, clean);
    int rc = tc_connect(c, 60, props);
    if (rc != 0) {
        e2e_fail(__FILE__, __LINE__, "client '%s' connect: CONNACK code %d", id ? id : "", rc);
        return NULL;
    }
    return c;
}

int tc_subscribe(struct tc *c, const char *filter, int qos, int options, const mosquitto_property *props)
{
    int before = c->subacks;
    if (mosquitto_subscribe_v5(c->m, NULL, filter, qos, options, c->version == MQTT_PROTOCOL_V5 ? props : NULL) !=
        MOSQ_ERR_SUCCESS)
        return -1;
    PUMP_UNTIL(c->subacks > before || c->disconnected, TC_TIMEOUT_MS);
    return c->subacks > before ? c->last_granted : -1;
}

int tc_publish_bin(struct tc *c, const char *topic, const void *payload, int len, int qos, bool retain,
                   const mosquitto_property *props)
{
    int mid = 0;
    if (mosquitto_publish_v5(c->m, &mid, topic, len, payload, qos, retain,
                             c->version == MQTT_PROTOCOL_V5 ? props : NULL) != MOSQ_ERR_SUCCESS)
        return -1;
    PUMP_UNTIL((c->pub_acks > 0 && c->last_pub_mid == mid) || c->disconnected, TC_TIMEOUT_MS);
    return c->last_pub_mid == mid ? c->last_pub_rc : -1;
}

int tc_publish(struct tc *c, const char *topic, const char *payload, int qos, bool retain,
               const mosquitto_property *props)
{
    return tc_publish_bin(c, topic, payload, (int)strlen(payload), qos, retain, props);
}

void tc_disconnect(struct tc *c, int reason)
{
    if (c->disconnected) return;
    mosquitto_disconnect_v5(c->m, reason, NULL);
    PUMP_UNTIL(c->disconnected, TC_TIMEOUT_MS);
}

void tc_drop(struct tc *c)
{
    int fd = mosquitto_socket(c->m);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    PUMP_UNTIL(c->disconnected, TC_TIMEOUT_MS);
}

static void free_messages(struct tc *c)
{
    for (int i = 0; i < c->msg_count; i++) {
        free(c->msgs[i].topic);
        free(c->msgs[i].payload);
        mosquitto_property_free_all(&c->msgs[i].props);
    }
    free(c->msgs);
}

void tc_destroy(struct tc *c)
{
    for (struct tc **p = &live_clients; *p; p = &(*p)->next_live) {
        if (*p == c) {
            *p = c->next_live;
            break;
        }
    }
    mosquitto_destroy(c->m);
    mosquitto_property_free_all(&c->connack_props);
    free_messages(c);
    free(c);
}

void tc_destroy_all(void)
{
    while (live_clients) tc_destroy(live_clients);
}

/* Waits briefly for any client socket to be ready, then lets libmosquitto
 * process each client without blocking. */
void tc_pump_once(void)
{
    struct pollfd fds[MAX_LIVE];
    int n = 0;
    for (struct tc *c = live_clients; c && n < MAX_LIVE; c = c->next_live) {
        int fd = mosquitto_socket(c->m);
        if (fd < 0) continue;
        fds[n].fd = fd;
        fds[n].events = POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0);
        n++;
    }
    if (n > 0) poll(fds, (nfds_t)n, PUMP_POLL_MS);
    else e2e_sleep_ms(PUMP_POLL_MS);
    for (struct tc *c = live_clients; c; c = c->next_live)
        if (mosquitto_socket(c->m) >= 0) mosquitto_loop(c->m, 0, 100);
}

void tc_pump_for(int ms)
{
    int64_t deadline = e2e_now_ms() + ms;
    while (e2e_now_ms() < deadline) tc_pump_once();
}

bool tc_wait_msgs(struct tc *c, int n, int timeout_ms)
{
    PUMP_UNTIL(c->msg_count >= n, timeout_ms);
    return c->msg_count >= n;
}

int tc_count_topic(const struct tc *c, const char *topic)
{
    int n = 0;
    for (int i = 0; i < c->msg_count; i++) n += strcmp(c->msgs[i].topic, topic) == 0;
    return n;
}

long tc_prop_int(const mosquitto_property *props, int id)
{
    uint8_t b;
    uint16_t s;
    uint32_t w;
    if (mosquitto_property_read_byte(props, id, &b, false)) return b;
    if (mosquitto_property_read_int16(props, id, &s, false)) return s;
    if (mosquitto_property_read_int32(props, id, &w, false)) return w;
    if (mosquitto_property_read_varint(props, id, &w, false)) return w;
    return -1;
}

bool tc_prop_str(const mosquitto_property *props, int id, char *buf, int size)
{
    char *s = NULL;
    void *bin = NULL;
    uint16_t len = 0;
    if (mosquitto_property_read_string(props, id, &s, false)) {
        snprintf(buf, (size_t)size, "%s", s);
        free(s);
        return true;
    }
    if (mosquitto_property_read_binary(props, id, &bin, &len, false)) {
        int n = len < size - 1 ? len : size - 1;
        memcpy(buf, bin, (size_t)n);
        buf[n] = '\0';
        free(bin);
        return true;
    }
    return false;
}

int tc_sub_ids(const mosquitto_property *props, uint32_t *ids, int max)
{
    int n = 0;
    uint32_t v;
    const mosquitto_property *p = mosquitto_property_read_varint(props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &v, false);
    while (p) {
        if (n < max) ids[n] = v;
        n++;
        p = mosquitto_property_read_varint(p, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &v, true);
    }
    return n;
}
