#include "server/check_config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl/file_log.h"
#include "server/log_setup.h"
#include "server/metrics.h"
#include "server/security.h"

/* What store_log_new needs: an existing directory it may write in, or a
 * missing one it can create (one level, as it does). Nothing inside is
 * opened: a running server holds its lock, and checking the file before
 * a reload must work beside it. */
static int check_persistence_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) { /* where a start fails: the lock file */
            snprintf(err, errlen, "persistence.dir %s: cannot open the lock file %s/%s: %s", dir, dir,
                     REPL_FILE_LOCK_NAME, strerror(ENOTDIR));
            return -1;
        }
        if (access(dir, W_OK | X_OK) != 0) {
            snprintf(err, errlen, "persistence.dir %s: cannot write in it: %s", dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    char parent[CONFIG_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    if (errno != ENOENT || access(dirname(parent), W_OK | X_OK) != 0) {
        snprintf(err, errlen, "persistence.dir %s: cannot create it: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int check_config_run(const config *cfg, const char *path)
{
    char err[2 * CONFIG_PATH_MAX + 512];
    if (log_setup_check(&cfg->log, err, sizeof err) != 0 ||
        (cfg->persistence.dir[0] && check_persistence_dir(cfg->persistence.dir, err, sizeof err) != 0) ||
        security_check(cfg, err, sizeof err) != 0 || metrics_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "mqstated: %s\n", err);
        return 1;
    }
    printf("configuration OK: %s\n", path);
    return 0;
}
