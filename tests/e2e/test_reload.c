/* SIGHUP and the settings outside listeners: log_level and the limits a
 * running server can change are applied, the others are logged as
 * needing a restart and keep their running values. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* The broker's log: the harness writes it next to the configuration. */
static bool log_has(const char *needle)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", e2e_config_path());
    char *slash = strrchr(path, '/');
    if (!slash) return false;
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "broker.log");
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static bool wait_log(const char *needle, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    while (!log_has(needle) && e2e_now_ms() < deadline) e2e_sleep_ms(20);
    return log_has(needle);
}

/* Replace `from` by `to` in the running configuration, append `extra`. */
static bool rewrite_config(const char *from, const char *to, const char *extra)
{
    FILE *f = fopen(e2e_config_path(), "r");
    if (!f) return false;
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, from);
    if (!at) return false;
    f = fopen(e2e_config_path(), "w");
    if (!f) return false;
    fprintf(f, "%.*s%s%s%s", (int)(at - text), text, to, at + strlen(from), extra);
    return fclose(f) == 0;
}

static void limits_and_log_level_reloaded(void)
{
    struct tc *a = tc_open("a", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(a);
    CHECK(wait_log("client a connected (", 2000));
    CHECK(rewrite_config("log_level: info", "log_level: error",
                         "limits:\n  max_connections: 1\n  max_packet_size: 1024\n"));
    e2e_signal_broker(SIGHUP);
    CHECK(wait_log("reload: log_level info -> error applied", 5000));
    CHECK(log_has("reload: limits.max_connections 0 -> 1 applied"));
    CHECK(log_has("reload: limits.max_packet_size 16777216 -> 1024 needs a restart; still 16777216"));

    /* max_connections = 1 holds for the next CONNECT. */
    struct tc *b = tc_new("b", MQTT_PROTOCOL_V5, true);
    CHECK_INT(tc_connect(b, 30, NULL), 0x97); /* quota exceeded */
    tc_disconnect(a, 0);
    tc_pump_for(200);
    struct tc *c = tc_open("c", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c);
    /* The packet size advertised to c is still the old one. */
    static char payload[2000];
    memset(payload, 'x', sizeof payload);
    CHECK_INT(tc_publish_bin(c, "t", payload, sizeof payload, 1, false, NULL), 0x10); /* no subscribers */
    /* log_level error (+ -v = warn): no more info lines. */
    CHECK(!log_has("client c connected ("));
}

/* A reload that changes nothing says nothing about settings. */
static void unchanged_reload_is_quiet(void)
{
    e2e_signal_broker(SIGHUP);
    CHECK(wait_log("reload: TLS certificates and password files reloaded", 5000));
    e2e_sleep_ms(100);
    CHECK(!log_has("applied"));
    CHECK(!log_has("needs a restart"));
    struct tc *a = tc_open("a", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(a);
}

static const struct e2e_case cases[] = {
    {"limits_and_log_level_reloaded", limits_and_log_level_reloaded, NULL, "SIGHUP reloads mqstated's YAML"},
    {"unchanged_reload_is_quiet", unchanged_reload_is_quiet, NULL, "SIGHUP reloads mqstated's YAML"},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
