/* Graceful shutdown: SIGTERM/SIGINT disconnect clients and exit 0. */
#include <signal.h>

#include "client.h"
#include "rawclient.h"

static int connect_v311(void)
{
    struct pb connect = {0};
    struct raw_pkt ack;
    raw_build_connect_v311(&connect, "old", true, 30);
    int fd = raw_open(e2e_port());
    if (fd < 0 || !raw_send_pb(fd, &connect) || raw_recv(fd, &ack, TC_TIMEOUT_MS) != RAW_OK) return -1;
    raw_pkt_free(&ack);
    return fd;
}

static void sigterm_disconnects_clients(void)
{
    int a = raw_connect_v5(e2e_port(), "a", true, NULL, NULL);
    int b = raw_connect_v5(e2e_port(), "b", true, NULL, NULL);
    int old = connect_v311();
    CHECK(a >= 0 && b >= 0 && old >= 0);
    CHECK_INT(raw_subscribe_v5(b, 1, "busy/#", 1, NULL), 1);
    e2e_signal_broker(SIGTERM);
    int reason_a = -1, reason_b = -1, reason_old = -1;
    CHECK(raw_wait_closed(a, TC_TIMEOUT_MS, &reason_a));
    CHECK(raw_wait_closed(b, TC_TIMEOUT_MS, &reason_b));
    CHECK(raw_wait_closed(old, TC_TIMEOUT_MS, &reason_old));
    CHECK_INT(reason_old, -1); /* v3.1.1 has no server DISCONNECT */
    CHECK(e2e_stop_broker());
    if (reason_a == -1 && e2e_mosquitto_deviates("closes v5 clients without DISCONNECT 0x8B")) return;
    CHECK_INT(reason_a, 0x8B); /* server shutting down */
    CHECK_INT(reason_b, 0x8B);
}

static void sigint_exits_cleanly(void)
{
    struct tc *c = tc_open("c", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c);
    CHECK_INT(tc_subscribe(c, "x/#", 2, 0, NULL), 2);
    CHECK_INT(tc_publish(c, "x/y", "retained", 1, true, NULL), 0);
    e2e_signal_broker(SIGINT);
    PUMP_UNTIL(c->disconnected, TC_TIMEOUT_MS);
    CHECK(c->disconnected);
    CHECK(e2e_stop_broker());
}

static const struct e2e_case cases[] = {
    {"sigterm_disconnects_clients", sigterm_disconnects_clients, NULL, NULL},
    {"sigint_exits_cleanly", sigint_exits_cleanly, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
