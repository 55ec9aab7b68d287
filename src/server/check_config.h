/* mqstated --check-config: everything a start loads and validates, without
 * listening or touching the data directory's contents. */
#ifndef MQS_SERVER_CHECK_CONFIG_H
#define MQS_SERVER_CHECK_CONFIG_H

#include "server/config.h"

/* cfg is loaded and its listeners checked (as a start does first); this
 * checks the rest: the log file, the persistence directory, TLS files and
 * password files. Prints the first error as a start would ("mqstated:
 * MESSAGE" on stderr) and returns 1, or prints "configuration OK: PATH"
 * on stdout and returns 0. */
int check_config_run(const config *cfg, const char *path);

#endif
