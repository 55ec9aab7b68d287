/* The syslog sink of log.c, apart because <syslog.h> defines LOG_INFO and
 * LOG_DEBUG as macros that clash with enum log_level. */
#include <syslog.h>

#include "util/log_syslog.h"

void log__syslog_open(void) { openlog("mqstated", LOG_PID | LOG_NDELAY, LOG_DAEMON); }

void log__syslog_close(void) { closelog(); }

void log__syslog_write(int level, const char *msg)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    syslog(prio[level >= 0 && level <= 3 ? level : 3], "%s", msg);
}
