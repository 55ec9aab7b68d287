#include "server/authn_link.h"

/* broker_authenticate_fn; ctx is the authn. */
static broker_authn_status authenticate(void *ctx, const broker_authn_request *r, broker_authn_result *out)
{
    authn_request ar = {
        .client_id = r->client_id,
        .username = r->username,
        .password = r->password,
        .peer_ip = r->peer_ip,
        .listener = r->listener,
        .peer_cert = r->peer_cert,
        .token = r->token,
    };
    authn_result res = {0};
    if (authn_authenticate(ctx, &ar, &res) == AUTHN_STATUS_PENDING) return BROKER_AUTHN_PENDING;
    *out = (broker_authn_result){.reason = res.reason, .delay_ms = res.delay_ms, .who = res.who};
    return BROKER_AUTHN_DONE;
}

/* authn_done_fn; ctx is the broker. */
static void decided(void *ctx, uint64_t token, const authn_result *res)
{
    broker_authn_result br = {.reason = res->reason, .delay_ms = res->delay_ms, .who = res->who};
    broker_authn_complete(ctx, token, &br);
}

authn *authn_link_new(broker *b, const authn_policy *policies, size_t n, char *err, size_t errlen)
{
    return authn_new(policies, n, broker_loop(b), decided, b, err, errlen);
}

void authn_link_install(broker *b, authn *a) { broker_set_authenticator(b, a ? authenticate : NULL, a); }
