#include "server/log_setup.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

const char *log_setup_destination_name(config_log_dest d)
{
    return d == CONFIG_LOG_FILE ? "file" : d == CONFIG_LOG_SYSLOG ? "syslog" : "stderr";
}

const char *log_setup_format_name(enum log_format f) { return f == LOG_FORMAT_JSON ? "json" : "text"; }

int log_setup_apply(const config_log *c, char *err, size_t errlen)
{
    switch (c->destination) {
    case CONFIG_LOG_FILE:
        if (log_to_file(c->file, err, errlen) != 0) return -1;
        break;
    case CONFIG_LOG_SYSLOG: log_to_syslog(); break;
    case CONFIG_LOG_STDERR: log_to_stderr(); break;
    }
    log_set_format(c->format);
    return 0;
}

int log_setup_check(const config_log *c, char *err, size_t errlen)
{
    if (c->destination != CONFIG_LOG_FILE) return 0;
    struct stat st;
    if (stat(c->file, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "log.file %s: cannot open it for appending: %s", c->file, strerror(EISDIR));
            return -1;
        }
        if (access(c->file, W_OK) != 0) {
            snprintf(err, errlen, "log.file %s: cannot open it for appending: %s", c->file, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "log.file %s: cannot open it for appending: %s", c->file, strerror(errno));
        return -1;
    }
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", c->file);
    const char *d = dirname(dir);
    if (access(d, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "log.file %s: cannot open it for appending: %s", c->file, strerror(errno));
        return -1;
    }
    return 0;
}
