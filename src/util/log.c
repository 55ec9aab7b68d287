#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log_syslog.h"

/* The only process-wide logging state (docs/architecture.md, global
 * state): every module logs without threading a context through codec
 * and data-structure code that never logs otherwise. Set by the server
 * at start, on SIGHUP and on SIGUSR1, on the loop thread. */
static enum log_level threshold = LOG_INFO;
static enum log_format format = LOG_FORMAT_TEXT;
static enum { SINK_STDERR, SINK_FILE, SINK_SYSLOG } sink = SINK_STDERR;
static int file_fd = -1;       /* SINK_FILE: ours; a reopen dup3()s onto it, so the number never changes */
static char *file_path = NULL; /* SINK_FILE: owned */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level) { threshold = level; }
enum log_level log_get_level(void) { return threshold; }
void log_set_format(enum log_format f) { format = f; }
const char *log_level_name(enum log_level level) { return level_names[level <= LOG_DEBUG ? level : LOG_DEBUG]; }

static void release_sink(void)
{
    if (sink == SINK_FILE) close(file_fd);
    if (sink == SINK_SYSLOG) log__syslog_close();
    free(file_path);
    file_path = NULL;
    file_fd = -1;
    sink = SINK_STDERR;
}

void log_to_stderr(void) { release_sink(); }

void log_to_syslog(void)
{
    if (sink == SINK_SYSLOG) return;
    release_sink();
    log__syslog_open();
    sink = SINK_SYSLOG;
}

static int open_append(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) snprintf(err, errlen, "log.file %s: cannot open it for appending: %s", path, strerror(errno));
    return fd;
}

int log_to_file(const char *path, char *err, size_t errlen)
{
    int fd = open_append(path, err, errlen);
    if (fd < 0) return -1;
    if (sink == SINK_FILE) { /* same descriptor number, new file */
        dup3(fd, file_fd, O_CLOEXEC);
        close(fd);
        free(file_path);
    } else {
        release_sink();
        file_fd = fd;
        sink = SINK_FILE;
    }
    file_path = xstrdup(path);
    return 0;
}

int log_reopen(char *err, size_t errlen)
{
    if (sink != SINK_FILE) return 1;
    int fd = open_append(file_path, err, errlen);
    if (fd < 0) return -1;
    dup3(fd, file_fd, O_CLOEXEC); /* atomic: a line is written whole to the old file or to the new */
    close(fd);
    return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* nowhere left to report it */
        p += w;
        n -= (size_t)w;
    }
}

/* "2026-12-07T18:49:25.766Z" */
static void timestamp(char *out, size_t outlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03ldZ", when, ts.tv_nsec / 1000000);
}

static void emit(enum log_level level, const char *msg, size_t len)
{
    char ts[48];
    buf line = {0};
    if (format == LOG_FORMAT_JSON) {
        timestamp(ts, sizeof ts);
        buf_append(&line, "{\"ts\":\"", 7);
        buf_append(&line, ts, strlen(ts));
        buf_append(&line, "\",\"level\":\"", 11);
        buf_append(&line, level_names[level], strlen(level_names[level]));
        buf_append(&line, "\",\"msg\":", 8);
        log_json_string(&line, msg, len);
        buf_append_u8(&line, '}');
    } else if (sink == SINK_SYSLOG) { /* syslog adds time, ident and priority */
        buf_append(&line, msg, len);
    } else {
        timestamp(ts, sizeof ts);
        char head[96];
        int n = snprintf(head, sizeof head, "%s mqstated %s: ", ts, level_names[level]);
        buf_append(&line, head, (size_t)n);
        buf_append(&line, msg, len);
    }
    if (sink == SINK_SYSLOG) {
        buf_append_u8(&line, '\0');
        log__syslog_write((int)level, (const char *)line.data);
    } else {
        buf_append_u8(&line, '\n');
        write_all(sink == SINK_FILE ? file_fd : STDERR_FILENO, line.data, line.len);
    }
    buf_free(&line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > threshold) return;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        emit(level, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    emit(level, big, (size_t)n);
    free(big);
}
