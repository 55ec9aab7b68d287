/* The `log:` section applied to the log module (util/log.h), at start and
 * on SIGHUP, and checked by --check-config. */
#ifndef MQS_SERVER_LOG_SETUP_H
#define MQS_SERVER_LOG_SETUP_H

#include <stddef.h>

#include "server/config.h"

/* Format and destination of c (the level is the caller's: -v raises it).
 * destination file (re)opens the file, so a SIGHUP also reopens it. On
 * error (the file cannot be opened for appending) returns -1 with a
 * message and logging stays where it was (the format too). */
int log_setup_apply(const config_log *c, char *err, size_t errlen);

/* What log_setup_apply would find, without creating or opening the file:
 * an existing file must be a writable regular file (or device), a
 * missing one needs a writable directory. -1 with the message a start
 * would print. */
int log_setup_check(const config_log *c, char *err, size_t errlen);

/* "stderr", "file", "syslog" / "text", "json". */
const char *log_setup_destination_name(config_log_dest d);
const char *log_setup_format_name(enum log_format f);

#endif
