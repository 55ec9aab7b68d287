/* Restarts the case's broker with extra YAML configuration, for state store
 * cases that need a `store:` section (the harness only writes `limits:`).
 *
 * The harness broker is stopped first (its clean exit is still checked), and
 * mqstated is started again on the same port, so e2e_port() and the client
 * helpers keep working. The replacement is stopped and its exit status
 * checked by ss_broker_stop(), which the case must call at its end. */
#ifndef MQS_E2E_SSBROKER_H
#define MQS_E2E_SSBROKER_H

#include <stdbool.h>

/* extra_yaml is appended after the listener section; returns false (after
 * recording a failure) if the broker does not come up. */
bool ss_broker_restart(const char *extra_yaml);
/* SIGTERM, bounded wait, and true only for exit status 0 (so ASan/LSan
 * reports fail the case). Prints the broker log on failure. */
bool ss_broker_stop(void);

#endif
