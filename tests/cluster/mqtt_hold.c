/* mqtt_hold: one MQTT v5 connection held open, reporting what the server
 * does to it (tests/cluster/test_session.sh). Prints, one line each,
 * flushed: "connected present=P" on CONNACK 0, "refused rc=0xNN",
 * "disconnected rc=0xNN" (the server's DISCONNECT reason; 0x00 for a bare
 * close) and exits 0 when the connection ends or after -t seconds.
 *
 *   mqtt_hold -p PORT -i ID [-c] [-x EXPIRY] [-w TOPIC -m PAYLOAD [-q QOS]
 *             [-d DELAY] [-r]] [-n] [-t SECONDS]
 *   -c  clean start     -x  session expiry interval (s)
 *   -w/-m/-q/-d/-r      will topic, payload, QoS, will delay (s), retain
 *   -n  send DISCONNECT 0x00 right after the CONNACK and exit */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool done, normal;

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *p)
{
    (void)ud;
    (void)p;
    if (rc) {
        printf("refused rc=0x%02x\n", rc);
        done = true;
    } else {
        printf("connected present=%d\n", flags & 1);
        if (normal) mosquitto_disconnect_v5(m, 0, NULL);
    }
    fflush(stdout);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc, const mosquitto_property *p)
{
    (void)m;
    (void)ud;
    (void)p;
    printf("disconnected rc=0x%02x\n", rc);
    fflush(stdout);
    done = true;
}

int main(int argc, char **argv)
{
    int port = 1883, qos = 0, delay = -1, expiry = -1, secs = 60, ch;
    const char *id = NULL, *wtopic = NULL, *wpayload = "";
    bool clean = false, retain = false;
    while ((ch = getopt(argc, argv, "p:i:cx:w:m:q:d:rnt:")) != -1) {
        switch (ch) {
        case 'p': port = atoi(optarg); break;
        case 'i': id = optarg; break;
        case 'c': clean = true; break;
        case 'x': expiry = atoi(optarg); break;
        case 'w': wtopic = optarg; break;
        case 'm': wpayload = optarg; break;
        case 'q': qos = atoi(optarg); break;
        case 'd': delay = atoi(optarg); break;
        case 'r': retain = true; break;
        case 'n': normal = true; break;
        case 't': secs = atoi(optarg); break;
        default: fprintf(stderr, "mqtt_hold: bad option\n"); return 2;
        }
    }
    if (!id) {
        fprintf(stderr, "mqtt_hold: -i ID is required\n");
        return 2;
    }
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(id, clean, NULL);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(m, on_connect);
    mosquitto_disconnect_v5_callback_set(m, on_disconnect);
    if (wtopic) {
        mosquitto_property *wp = NULL;
        if (delay >= 0) mosquitto_property_add_int32(&wp, MQTT_PROP_WILL_DELAY_INTERVAL, (uint32_t)delay);
        if (mosquitto_will_set_v5(m, wtopic, (int)strlen(wpayload), wpayload, qos, retain, wp) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "mqtt_hold: bad will\n");
            return 2;
        }
    }
    mosquitto_property *cp = NULL;
    if (expiry >= 0) mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)expiry);
    if (mosquitto_connect_bind_v5(m, "127.0.0.1", port, 30, NULL, cp) != MOSQ_ERR_SUCCESS) {
        printf("disconnected rc=0xff\n");
        return 1;
    }
    mosquitto_property_free_all(&cp);
    time_t end = time(NULL) + secs;
    while (!done && time(NULL) < end) {
        int rc = mosquitto_loop(m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS && !done) {
            printf("disconnected rc=0x00\n"); /* closed without a DISCONNECT */
            fflush(stdout);
            break;
        }
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
