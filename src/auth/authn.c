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
    uv_loop_t *loop;
    authn_done_fn done;
    void *done_ctx;
};

void authn_policy_default(authn_policy *p)
{
    memset(p, 0, sizeof *p);
    p->x509_username = X509_FIELD_CN;
    p->failure_delay_ms = 1000;
    p->failure_burst = 10;
    p->failure_per_minute = 10;
}

authn *authn_new(const authn_policy *policies, size_t n, uv_loop_t *loop, authn_done_fn done, void *done_ctx, char *err,
                 size_t errlen)
{
    authn *a = xcalloc(1, sizeof *a);
    a->loop = loop;
    a->done = done;
    a->done_ctx = done_ctx;
    a->ls = xcalloc(n ? n : 1, sizeof *a->ls);
    a->n = n;
    a->rl = ratelimit_new();
    for (size_t i = 0; i < n; i++) {
        a->ls[i].p = policies[i];
        if (!policies[i].password_file[0]) continue;
        char why[512];
        a->ls[i].pw = passwd_file_load(policies[i].password_file, why, sizeof why);
        if (!a->ls[i].pw) {
            if (policies[i].where[0]) snprintf(err, errlen, "%s.password_file: %s", policies[i].where, why);
            else snprintf(err, errlen, "listeners[%zu].authentication.password_file: %s", i, why);
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

static principal *new_principal(const authn_request *r, const void *user, size_t ulen, const char *method)
{
    return principal_new(r->client_id.data, r->client_id.len, user, ulen, method);
}

/* The x509 method: user name and attributes from certificate fields. */
static uint8_t by_certificate(const listener_authn *l, const authn_request *r, principal **who, const char **why)
{
    char v[FIELD_MAX];
    int n = x509_field_get(r->peer_cert, l->p.x509_username, v, sizeof v);
    if (n <= 0) {
        *why = "certificate has no field for the user name";
        return MQTT_RC_NOT_AUTHORIZED;
    }
    principal *p = new_principal(r, v, (size_t)n, "x509");
    for (uint8_t i = 0; i < l->p.nattrs; i++)
        if (x509_field_get(r->peer_cert, l->p.attrs[i].field, v, sizeof v) >= 0)
            principal_add_attr(p, l->p.attrs[i].name, v);
    *who = p;
    return MQTT_RC_SUCCESS;
}

/* A password check running on the thread pool: what its completion needs,
 * copied, because the request's slices die with the call and a reload may
 * free the authn meanwhile. The address's failure budget is charged when
 * the check starts, so that many concurrent guesses cannot outrun it; a
 * success gives the charge back. */
typedef struct pending_check {
    authn_done_fn done;
    void *done_ctx;
    uint64_t token;
    principal *who; /* client id and user name; handed to `done` on success */
    ratelimit *rl;  /* referenced */
    ratelimit_params rp;
    uint32_t delay_ms;
    unsigned listener;
    char *peer_ip;
} pending_check;

static void log_failure(const char *ip, unsigned listener, const mqtt_bytes *client_id, const mqtt_bytes *username,
                        const char *why)
{
    char id[80], user[80];
    log_info("authentication failed for %s on listener %u (client id %s, user %s): %s", ip, listener,
             loggable(client_id, id, sizeof id), loggable(username, user, sizeof user), why);
}

static void pending_free(pending_check *pc)
{
    principal_free(pc->who);
    ratelimit_free(pc->rl);
    free(pc->peer_ip);
    free(pc);
}

/* On the loop thread, once the slow hash is done. */
static void password_checked(void *arg, passwd_result pr)
{
    pending_check *pc = arg;
    authn_result res = {.reason = MQTT_RC_SUCCESS};
    if (pr == PASSWD_OK) {
        ratelimit_refund(pc->rl, pc->peer_ip, clock_now_ms(), &pc->rp);
        res.who = pc->who;
        pc->who = NULL;
    } else {
        mqtt_bytes id = {pc->who->client_id, (uint32_t)pc->who->client_id_len};
        mqtt_bytes user = {pc->who->username, (uint32_t)pc->who->username_len};
        const char *why = pr == PASSWD_UNKNOWN_USER ? "unknown user" : "wrong password";
        log_failure(pc->peer_ip, pc->listener, &id, &user, why);
        res.reason = MQTT_RC_BAD_USER_OR_PASSWORD;
        res.delay_ms = pc->delay_ms;
    }
    pc->done(pc->done_ctx, pc->token, &res);
    pending_free(pc);
}

static uint8_t by_password(const authn *a, const listener_authn *l, const authn_request *r, principal **who,
                           const char **why, bool *pending)
{
    if (!r->password) {
        *why = "no password";
        return MQTT_RC_BAD_USER_OR_PASSWORD;
    }
    pending_check *pc = xcalloc(1, sizeof *pc);
    pc->who =
        new_principal(r, r->username->data ? r->username->data : (const uint8_t *)"", r->username->len, "password");
    passwd_result pr = passwd_file_check_async(l->pw, a->loop, r->username->data, r->username->len, r->password->data,
                                               r->password->len, password_checked, pc);
    if (pr == PASSWD_PENDING) {
        *pending = true;
        pc->done = a->done;
        pc->done_ctx = a->done_ctx;
        pc->token = r->token;
        pc->rl = ratelimit_ref(a->rl);
        pc->rp = (ratelimit_params){l->p.failure_burst, l->p.failure_per_minute};
        pc->delay_ms = l->p.failure_delay_ms;
        pc->listener = r->listener;
        pc->peer_ip = xstrdup(r->peer_ip);
        ratelimit_charge(pc->rl, pc->peer_ip, clock_now_ms(), &pc->rp);
        return MQTT_RC_SUCCESS;
    }
    if (pr == PASSWD_OK) { /* remembered: answered at once */
        *who = pc->who;
        pc->who = NULL;
    } else {
        *why = pr == PASSWD_UNKNOWN_USER ? "unknown user" : "wrong password";
    }
    pending_free(pc);
    return pr == PASSWD_OK ? MQTT_RC_SUCCESS : MQTT_RC_BAD_USER_OR_PASSWORD;
}

/* The first method that applies decides (see authn.h); *pending when the
 * password method went on the thread pool. */
static uint8_t decide(const authn *a, const listener_authn *l, const authn_request *r, principal **who,
                      const char **why, bool *pending)
{
    for (uint8_t i = 0; i < l->p.nmethods; i++) {
        switch ((authn_method)l->p.methods[i]) {
        case AUTHN_X509:
            if (r->peer_cert) return by_certificate(l, r, who, why);
            break;
        case AUTHN_PASSWORD:
            if (r->username && l->pw) return by_password(a, l, r, who, why, pending);
            break;
        case AUTHN_ANONYMOUS:
            if (!r->username && !r->password) {
                *who = NULL; /* anonymous: the receiver makes the principal if needed */
                return MQTT_RC_SUCCESS;
            }
            break;
        }
    }
    *why = r->username ? "user names are not accepted on this listener" : "no accepted credentials";
    return r->username ? MQTT_RC_BAD_USER_OR_PASSWORD : MQTT_RC_NOT_AUTHORIZED;
}

authn_status authn_authenticate(authn *a, const authn_request *r, authn_result *out)
{
    out->who = NULL;
    out->delay_ms = 0;
    if (r->listener >= a->n) { /* a listener without a policy: refuse, safely */
        out->reason = MQTT_RC_NOT_AUTHORIZED;
        return AUTHN_STATUS_DONE;
    }
    const listener_authn *l = &a->ls[r->listener];
    if (l->p.open) { /* anonymous, who NULL: the receiver makes the principal if needed */
        out->reason = MQTT_RC_SUCCESS;
        return AUTHN_STATUS_DONE;
    }
    ratelimit_params rp = {l->p.failure_burst, l->p.failure_per_minute};
    uint64_t now = clock_now_ms();
    if (ratelimit_exhausted(a->rl, r->peer_ip, now, &rp)) {
        char user[80];
        log_info("authentication refused for %s (user %s): too many failures, rate limited", r->peer_ip,
                 loggable(r->username, user, sizeof user));
        out->reason = MQTT_RC_CONNECTION_RATE_EXCEEDED;
        return AUTHN_STATUS_DONE;
    }
    const char *why = "refused";
    bool pending = false;
    out->reason = decide(a, l, r, &out->who, &why, &pending);
    if (pending) return AUTHN_STATUS_PENDING;
    if (out->reason == MQTT_RC_SUCCESS) return AUTHN_STATUS_DONE;
    ratelimit_charge(a->rl, r->peer_ip, now, &rp);
    out->delay_ms = l->p.failure_delay_ms;
    log_failure(r->peer_ip, r->listener, &r->client_id, r->username, why);
    return AUTHN_STATUS_DONE;
}
