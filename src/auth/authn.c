#include "auth/authn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passwd_file.h"
#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define FIELD_MAX 1024

typedef struct listener_authn {
    authn_policy p;
    passwd_file *pw; /* NULL when the policy has no password file */
} listener_authn;

struct authn {
    listener_authn *ls;
    size_t n;
    ratelimit *rl;
};

void authn_policy_default(authn_policy *p)
{
    memset(p, 0, sizeof *p);
    p->x509_username = X509_FIELD_CN;
    p->failure_delay_ms = 1000;
    p->failure_burst = 10;
    p->failure_per_minute = 10;
}

authn *authn_new(const authn_policy *policies, size_t n, char *err, size_t errlen)
{
    authn *a = xcalloc(1, sizeof *a);
    a->ls = xcalloc(n ? n : 1, sizeof *a->ls);
    a->n = n;
    a->rl = ratelimit_new();
    for (size_t i = 0; i < n; i++) {
        a->ls[i].p = policies[i];
        if (!policies[i].password_file[0]) continue;
        char why[512];
        a->ls[i].pw = passwd_file_load(policies[i].password_file, why, sizeof why);
        if (!a->ls[i].pw) {
            snprintf(err, errlen, "listeners[%zu].authentication.password_file: %s", i, why);
            authn_free(a);
            return NULL;
        }
    }
    return a;
}

void authn_free(authn *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) passwd_file_free(a->ls[i].pw);
    free(a->ls);
    ratelimit_free(a->rl);
    free(a);
}

void authn_move_limits(authn *to, authn *from)
{
    ratelimit *t = to->rl;
    to->rl = from->rl;
    from->rl = t;
}

/* A user name made safe for a log line: printable ASCII, at most 64. */
static const char *loggable(const mqtt_bytes *u, char *out, size_t outlen)
{
    if (!u) return "(none)";
    size_t n = 0;
    for (uint32_t i = 0; i < u->len && n + 4 < outlen && i < 64; i++)
        out[n++] = u->data[i] >= 0x20 && u->data[i] < 0x7f ? (char)u->data[i] : '?';
    if (u->len > 64) n += (size_t)snprintf(out + n, outlen - n, "...");
    out[n] = '\0';
    return out;
}

static principal *new_principal(const broker_authn_request *r, const void *user, size_t ulen, const char *method)
{
    return principal_new(r->client_id.data, r->client_id.len, user, ulen, method);
}

/* The x509 method: user name and attributes from certificate fields. */
static uint8_t by_certificate(const listener_authn *l, const broker_authn_request *r, principal **who,
                              const char **why)
{
    char v[FIELD_MAX];
    int n = x509_field_get(r->peer_cert, l->p.x509_username, v, sizeof v);
    if (n <= 0) {
        *why = "certificate has no field for the user name";
        return MQTT_RC_NOT_AUTHORIZED;
    }
    principal *p = new_principal(r, v, (size_t)n, "x509");
    for (uint8_t i = 0; i < l->p.nattrs; i++)
        if (x509_field_get(r->peer_cert, l->p.attrs[i].field, v, sizeof v) >= 0) principal_add_attr(p, l->p.attrs[i].name, v);
    *who = p;
    return MQTT_RC_SUCCESS;
}

static uint8_t by_password(const listener_authn *l, const broker_authn_request *r, principal **who,
                           const char **why)
{
    if (!r->password) {
        *why = "no password";
        return MQTT_RC_BAD_USER_OR_PASSWORD;
    }
    passwd_result pr = passwd_file_check(l->pw, r->username->data, r->username->len, r->password->data,
                                         r->password->len);
    if (pr != PASSWD_OK) {
        *why = pr == PASSWD_UNKNOWN_USER ? "unknown user" : "wrong password";
        return MQTT_RC_BAD_USER_OR_PASSWORD;
    }
    *who = new_principal(r, r->username->data ? r->username->data : (const uint8_t *)"", r->username->len,
                         "password");
    return MQTT_RC_SUCCESS;
}

/* The first method that applies decides (see authn.h). */
static uint8_t decide(const listener_authn *l, const broker_authn_request *r, principal **who, const char **why)
{
    for (uint8_t i = 0; i < l->p.nmethods; i++) {
        switch ((authn_method)l->p.methods[i]) {
        case AUTHN_X509:
            if (r->peer_cert) return by_certificate(l, r, who, why);
            break;
        case AUTHN_PASSWORD:
            if (r->username && l->pw) return by_password(l, r, who, why);
            break;
        case AUTHN_ANONYMOUS:
            if (!r->username && !r->password) {
                *who = new_principal(r, NULL, 0, "anonymous");
                return MQTT_RC_SUCCESS;
            }
            break;
        }
    }
    *why = r->username ? "user names are not accepted on this listener" : "no accepted credentials";
    return r->username ? MQTT_RC_BAD_USER_OR_PASSWORD : MQTT_RC_NOT_AUTHORIZED;
}

void authn_authenticate(void *ctx, const broker_authn_request *r, broker_authn_result *out)
{
    authn *a = ctx;
    out->who = NULL;
    out->delay_ms = 0;
    if (r->listener >= a->n) { /* a listener without a policy: refuse, safely */
        out->reason = MQTT_RC_NOT_AUTHORIZED;
        return;
    }
    const listener_authn *l = &a->ls[r->listener];
    if (l->p.open) {
        const uint8_t *u = r->username ? (r->username->data ? r->username->data : (const uint8_t *)"") : NULL;
        out->who = new_principal(r, u, r->username ? r->username->len : 0, "anonymous");
        out->reason = MQTT_RC_SUCCESS;
        return;
    }
    ratelimit_params rp = {l->p.failure_burst, l->p.failure_per_minute};
    uint64_t now = clock_now_ms();
    char user[80];
    if (ratelimit_exhausted(a->rl, r->peer_ip, now, &rp)) {
        log_info("authentication refused for %s (user %s): too many failures, rate limited", r->peer_ip,
                 loggable(r->username, user, sizeof user));
        out->reason = MQTT_RC_CONNECTION_RATE_EXCEEDED;
        return;
    }
    const char *why = "refused";
    out->reason = decide(l, r, &out->who, &why);
    if (out->reason == MQTT_RC_SUCCESS) return;
    ratelimit_charge(a->rl, r->peer_ip, now, &rp);
    out->delay_ms = l->p.failure_delay_ms;
    char id[80];
    log_info("authentication failed for %s on listener %u (client id %s, user %s): %s", r->peer_ip, r->listener,
             loggable(&r->client_id, id, sizeof id), loggable(r->username, user, sizeof user), why);
}
