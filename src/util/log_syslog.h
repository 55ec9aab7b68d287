/* Internal to log.c: syslog(3) without <syslog.h>'s macros. */
#ifndef MQS_UTIL_LOG_SYSLOG_H
#define MQS_UTIL_LOG_SYSLOG_H

void log__syslog_open(void);
void log__syslog_close(void);
/* level: an enum log_level value. */
void log__syslog_write(int level, const char *msg);

#endif
