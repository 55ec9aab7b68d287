/* Helpers for the libmqstate end-to-end tests: a connected SDK client on
 * the harness broker, and a broker restart on the same port (the harness
 * has none: the first broker is stopped through the harness, the second
 * is started and stopped here by PID). */
#ifndef MQS_E2E_SDK_SUPPORT_H
#define MQS_E2E_SDK_SUPPORT_H

#include <stdbool.h>
#include <sys/types.h>

#include <mqstate/mqstate.h>

/* A threaded client with a fresh unique id on the harness port; NULL on
 * failure. */
mqs_client *sdk_connect(const char *prefix);
mqs_client *sdk_connect_port(const char *prefix, int port);

/* Stop the harness broker and start a fresh mqstated on the same port;
 * false if it does not listen within 10 s. */
bool sdk_restart_broker(void);
/* Stop the broker started by sdk_restart_broker (no-op if none); true if
 * it exited with status 0. */
bool sdk_stop_restarted(void);

/* Poll until *flag (read under no lock: set from a callback, volatile) is
 * true or ms pass. */
bool sdk_wait_flag(volatile int *flag, int target, int ms);

#endif
