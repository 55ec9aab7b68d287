/* Spawning the command of lock/elect. posix_spawn rather than fork: mqstate
 * has the library's network thread running, and only async-signal-safe
 * calls are allowed between fork and exec in a threaded process. */
#include "child.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* The variables mqstate sets for the command: the fencing token, and the
 * connection settings, so that an mqstate run inside it reaches the same
 * broker as the same user (option_env.c reads them). */
enum { VAR_TOKEN, VAR_HOST, VAR_PORT, VAR_USERNAME, VAR_PASSWORD, VAR_COUNT };
static const char *const var_names[VAR_COUNT] = {
    "MQSTATE_FENCING_TOKEN", "MQSTATE_HOST", "MQSTATE_PORT", "MQSTATE_USERNAME", "MQSTATE_PASSWORD",
};

static bool is_ours(const char *entry)
{
    for (int i = 0; i < VAR_COUNT; i++) {
        size_t n = strlen(var_names[i]);
        if (strncmp(entry, var_names[i], n) == 0 && entry[n] == '=') return true;
    }
    return false;
}

/* environ without any of our variables, plus ours as they apply to this
 * run (an unset user name or password is removed, not inherited). The
 * new entries are malloc'd into added[]. */
static char **child_environment(const char *token, const struct cli_connection *conn, char *added[VAR_COUNT])
{
    char port[16];
    snprintf(port, sizeof port, "%d", conn->port);
    const char *values[VAR_COUNT] = {token, conn->host, port, conn->username, conn->password};
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + VAR_COUNT + 1, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_ours(environ[i])) env[k++] = environ[i];
    }
    for (int i = 0; i < VAR_COUNT; i++) {
        if (!values[i]) continue;
        if (asprintf(&added[i], "%s=%s", var_names[i], values[i]) < 0) {
            added[i] = NULL;
            free(env);
            return NULL;
        }
        env[k++] = added[i];
    }
    env[k] = NULL;
    return env;
}

static int spawn(pid_t *pid, char **argv, char **env, const sigset_t *mask)
{
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    /* Whatever mqstate or its libraries ignored or blocked, the command
     * starts with the default dispositions and the original mask. */
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&defaults, sigs[i]);
    int err = posix_spawnattr_init(&attr);
    if (err) return err;
    posix_spawnattr_setsigmask(&attr, mask);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    err = posix_spawnp(pid, argv[0], NULL, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    return err;
}

pid_t cli_child_spawn(char **argv, const char *token, const struct cli_connection *conn, const sigset_t *mask,
                      int *status_out)
{
    char *added[VAR_COUNT] = {NULL};
    char **env = child_environment(token, conn, added);
    pid_t pid;
    int err = env ? spawn(&pid, argv, env, mask) : ENOMEM;
    free(env);
    for (int i = 0; i < VAR_COUNT; i++) free(added[i]);
    if (err) {
        fprintf(stderr, "mqstate: cannot run %s: %s\n", argv[0], strerror(err));
        *status_out = err == ENOENT ? 127 : 126;
        return -1;
    }
    return pid;
}

int cli_child_status(int wait_status)
{
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 1;
}
