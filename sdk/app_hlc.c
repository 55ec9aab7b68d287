/* The process clock (protocol §4.4: one application HLC per process) and
 * the public mqs_hlc value functions. This file holds the library's only
 * global state: the clock, its node id and the drift limit, under one
 * mutex. */
#include "mqstate/hlc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sdk_hlc.h"
#include "sdk_internal.h"
#include "util/clock.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static sdk_clock g_clock;
static uint64_t g_max_drift_ms = MQS_HLC_DEFAULT_MAX_DRIFT_MS;
static char g_node[40]; /* UUID v4 text, chosen on first use */

/* Caller holds g_mu. */
static void ensure_node(void)
{
    if (g_node[0]) return;
    uint8_t r[16];
    sdk_random(r, sizeof r);
    r[6] = (uint8_t)((r[6] & 0x0F) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3F) | 0x80);
    snprintf(g_node, sizeof g_node, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

static void to_public(const sdk_clock *c, mqs_hlc *out)
{
    out->wall_ms = c->wall_ms;
    out->counter = c->counter;
    memcpy(out->node, g_node, strlen(g_node) + 1);
}

bool mqs_hlc_parse(const char *s, size_t len, mqs_hlc *out)
{
    hlc v;
    if (!s || !hlc_parse(s, len, &v)) return false;
    return sdk_hlc_from_internal(&v, out);
}

bool sdk_hlc_from_internal(const hlc *v, mqs_hlc *out)
{
    if (v->node_len > MQS_HLC_NODE_MAX || memchr(v->node, 0, v->node_len)) return false;
    out->wall_ms = v->wall_ms;
    out->counter = v->counter;
    memcpy(out->node, v->node, v->node_len);
    out->node[v->node_len] = '\0';
    return true;
}

hlc sdk_hlc_to_internal(const mqs_hlc *v)
{
    return (hlc){v->wall_ms, v->counter, (const uint8_t *)v->node, strnlen(v->node, sizeof v->node)};
}

size_t mqs_hlc_format(const mqs_hlc *v, char *out, size_t size)
{
    hlc h = sdk_hlc_to_internal(v);
    if (h.node_len == 0 || h.node_len > MQS_HLC_NODE_MAX || memchr(h.node, ':', h.node_len)) return 0;
    buf b = {0};
    hlc_format(&h, &b);
    size_t n = b.len;
    if (n + 1 > size) n = 0;
    else {
        memcpy(out, b.data, n);
        out[n] = '\0';
    }
    buf_free(&b);
    return n;
}

int mqs_hlc_compare(const mqs_hlc *a, const mqs_hlc *b)
{
    hlc x = sdk_hlc_to_internal(a), y = sdk_hlc_to_internal(b);
    return hlc_compare(&x, &y);
}

void mqs_hlc_set_max_drift_ms(uint64_t ms)
{
    pthread_mutex_lock(&g_mu);
    g_max_drift_ms = ms ? ms : MQS_HLC_DEFAULT_MAX_DRIFT_MS;
    pthread_mutex_unlock(&g_mu);
}

mqs_err mqs_hlc_now(mqs_hlc *out)
{
    pthread_mutex_lock(&g_mu);
    ensure_node();
    mqs_err err = sdk_clock_tick(&g_clock, clock_wall_ms(), g_max_drift_ms);
    if (err == MQS_OK && out) to_public(&g_clock, out);
    pthread_mutex_unlock(&g_mu);
    return err;
}

void mqs_hlc_current(mqs_hlc *out)
{
    pthread_mutex_lock(&g_mu);
    ensure_node();
    to_public(&g_clock, out);
    pthread_mutex_unlock(&g_mu);
}

const char *mqs_hlc_node_id(void)
{
    pthread_mutex_lock(&g_mu);
    ensure_node();
    pthread_mutex_unlock(&g_mu);
    return g_node;
}

mqs_err sdk_hlc_receive(const hlc *v)
{
    pthread_mutex_lock(&g_mu);
    ensure_node();
    mqs_err err = sdk_clock_merge(&g_clock, g_node, v, clock_wall_ms(), g_max_drift_ms);
    pthread_mutex_unlock(&g_mu);
    return err;
}
