/* The TLS contexts of the listeners and the authenticator, built from the
 * configuration at start and rebuilt on SIGHUP (security.c). */
#ifndef MQS_SERVER_SECURITY_H
#define MQS_SERVER_SECURITY_H

#include <stddef.h>

#include "broker/broker.h"
#include "net/net.h"
#include "server/config.h"

typedef struct security security;

/* Build every listener's TLS context and authentication policy (loading
 * certificates, keys and password files) and install the authenticator
 * on b. NULL with a message naming the listener on error. */
security *security_new(broker *b, const config *cfg, char *err, size_t errlen);
/* --check-config: load what security_new would (certificates, keys, CA
 * bundles, CRLs, password files), with its warnings, and release it all.
 * -1 with security_new's message on error. */
int security_check(const config *cfg, char *err, size_t errlen);
/* Listener `index` of the configuration is now bound as l. */
void security_attach(security *s, size_t index, net_listener *l);
/* Rebuild everything from cfg; only when all of it loads are the new
 * contexts and policies swapped in (new connections use them, existing
 * ones keep theirs). Returns -1 with a message and changes nothing
 * otherwise. Listener addresses are not re-bound: changing them needs a
 * restart (logged). */
int security_reload(security *s, const config *cfg, char *err, size_t errlen);
/* Uninstalls the authenticator. */
void security_free(security *s);

#endif
