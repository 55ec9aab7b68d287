/* Authentication (src/auth/authn.h) installed as the broker's
 * authenticator: the broker's request and result types translated to
 * authn's own, and authn's later decisions (slow password checks)
 * reported to the broker (broker_authn_complete). src/auth knows nothing
 * of the broker; this is the one place that joins them, as
 * authz_guard.c does for authorization. */
#ifndef MQS_SERVER_AUTHN_LINK_H
#define MQS_SERVER_AUTHN_LINK_H

#include "auth/authn.h"
#include "broker/broker.h"

/* authn_new for broker `b`: thread-pool work on the broker's loop, later
 * decisions completed on `b` (which outlives every check in flight: the
 * loop runs until idle before broker_free). */
authn *authn_link_new(broker *b, const authn_policy *policies, size_t n, char *err, size_t errlen);
/* Install `a` (NULL: remove) as b's authenticator. */
void authn_link_install(broker *b, authn *a);

#endif
