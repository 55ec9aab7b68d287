/* Logging with a level threshold, a line format and a sink (stderr, a
 * file, syslog). The module holds the one process-wide logging state and
 * knows nothing of the configuration: the server sets level, format and
 * sink at start and on SIGHUP, and reopens the file on SIGUSR1. */
#ifndef MQS_UTIL_LOG_H
#define MQS_UTIL_LOG_H

#include <stddef.h>

#include "util/buf.h"

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* TEXT: `2026-12-07T18:49:25.766Z mqstated info: MESSAGE`;
 * JSON: `{"ts":"2026-12-07T18:49:25.766Z","level":"info","msg":"MESSAGE"}`
 * (docs/logging.md). One line per message either way. */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(enum log_format format);
/* "error", "warn", "info", "debug". */
const char *log_level_name(enum log_level level);

/* Sinks. Each line is one write(2) (files: O_APPEND), so lines of
 * concurrent writers never interleave and nothing is buffered in the
 * process. Changing the sink is done on one thread (the server's loop).
 * log_to_stderr (the default) also releases a file or syslog sink: call
 * it before exit.
 * log_to_file opens (creating, mode 0640) `path` for appending and
 * switches to it; on failure it returns -1 with a message and the sink
 * stays as it was. */
void log_to_stderr(void);
int log_to_file(const char *path, char *err, size_t errlen);
/* syslog(3): ident "mqstated", facility daemon, priorities err, warning,
 * info, debug. */
void log_to_syslog(void);
/* The file sink opens its path again and writes there from now on
 * (logrotate renamed the old one); lines written meanwhile went to the
 * renamed file, so none is lost. On failure the old file stays and -1
 * comes back with a message. Other sinks: nothing to do, 1. */
int log_reopen(char *err, size_t errlen);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s[0..len) to out as a JSON string with its quotes: '"', '\\'
 * and control characters (< 0x20, 0x7f) escaped, valid UTF-8 kept,
 * every byte of an invalid sequence as U+FFFD. */
void log_json_string(buf *out, const char *s, size_t len);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                     \
    do {                                                                   \
        if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); \
    } while (0)

#endif
